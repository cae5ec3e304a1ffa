// SPDX-License-Identifier: BSD-2-Clause
/// @file
/// How a vCPU's run ended, on every backend that runs guest code.
#pragma once

#include <guestmem/export.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "guestmem/fault.hpp"
#include "guestmem/port_io.hpp"
#include "guestmem/types.hpp"

namespace guestmem {

/// Why Vcpu::run() returned.
enum class StopReason {
    halted,           ///< the guest stopped itself: HLT (x86-64) or WFI (AArch64)
    exited,           ///< a fault handler called Vcpu::request_exit(); see RunResult::exit_status
    stopped,          ///< Vcpu::request_stop() ended the run
    fault_error,      ///< a memory access ended in an error; see RunResult::fault
    port_io_error,    ///< an x86 port access had no handler or its handler said error
    exception,        ///< the guest took an exception it cannot handle (x86 triple fault,
                      ///< an undefined instruction, code fetched from emulated memory, ...)
    internal_error,   ///< the hypervisor or emulator could not go on
    entry_failed,     ///< the CPU refused to enter the guest (invalid guest state)
    unexpected_exit,  ///< an exit this backend does not handle
};
/// Short stable name of a stop reason, e.g. "halted".
GUESTMEM_API std::string_view to_string(StopReason reason);

/// Returns to the VMM during one run, by kind.
struct ExitCounts {
    std::uint64_t total = 0;        ///< returns to the VMM (KVM_RUN returns; emulator callbacks)
    std::uint64_t mmio = 0;         ///< accesses to unmapped or read-only memory
    std::uint64_t port_io = 0;      ///< x86 port I/O
    std::uint64_t interrupted = 0;  ///< returns because of a signal or request_stop
    /// Guest writes posted without an exit (Vm::reserve_write_posting) and
    /// delivered during this run.
    std::uint64_t posted_writes = 0;
};

/// How a run ended. A plain value.
struct RunResult {
    StopReason reason = StopReason::halted;  ///< why the run stopped
    /// For fault_error: the failed access (address, length, direction) and the
    /// instruction pointer the backend reports for it (see the backend's docs).
    std::optional<FaultReport> fault;
    /// For port_io_error: the port access.
    std::optional<PortAccess> port;
    /// For exited: the status passed to Vcpu::request_exit().
    std::int64_t exit_status = 0;
    GuestAddr ip = 0;     ///< the instruction pointer when the run stopped
    std::string message;  ///< for people: why the run stopped (empty for halted and exited)
    ExitCounts exits;     ///< returns to the VMM during the run

    /// True when the guest halted.
    bool halted() const { return reason == StopReason::halted; }
};

}  // namespace guestmem
