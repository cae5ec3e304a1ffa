// SPDX-License-Identifier: BSD-2-Clause
// Turning a KVM port I/O exit into calls of the vCPU's port handler.
#pragma once

#include <linux/kvm.h>

#include <optional>
#include <string>

#include "guestmem/port_io.hpp"

namespace guestmem::kvm {

/// Why a port exit could not be completed.
struct PortFailure {
    PortAccess access;
    std::string reason;
};

/// Hands each element of the exit in `run` (count elements of size bytes at
/// run + data_offset) to `handler`; for IN stores what it returns. nullopt when
/// every element completed.
std::optional<PortFailure> handle_port_io(kvm_run& run, const PortIoHandler& handler);

}  // namespace guestmem::kvm
