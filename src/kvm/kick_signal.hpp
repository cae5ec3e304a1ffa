// SPDX-License-Identifier: BSD-2-Clause
// The signal that interrupts a vCPU thread inside KVM_RUN.
#pragma once

namespace guestmem::kvm {

/// SIGRTMIN + 3: real-time signals are left to applications and are not
/// coalesced with the common SIGUSR1/SIGUSR2 uses.
int kick_signal_number();

/// Installs the do-nothing handler for the kick signal (once per process).
/// SA_RESTART keeps other system calls of the interrupted thread going; KVM_RUN
/// itself always returns EINTR, which is the point.
void install_kick_handler();

}  // namespace guestmem::kvm
