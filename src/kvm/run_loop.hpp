// SPDX-License-Identifier: BSD-2-Clause
// KVM_RUN until the guest halts or something ends the run.
#pragma once

#include "guestmem/error.hpp"
#include "guestmem/run_result.hpp"
#include "kvm_vcpu.hpp"

namespace guestmem::kvm {

/// The run loop behind KvmVcpu::run (Vcpu::run on KVM): enters the guest, hands MMIO exits to
/// Vm::dispatch and port exits to the port handler, and turns every other
/// exit into a RunResult. Takes no lock besides the vCPU's own.
Result<RunResult> run_vcpu(KvmVcpu& vcpu);

}  // namespace guestmem::kvm
