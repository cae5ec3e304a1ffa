// SPDX-License-Identifier: BSD-2-Clause
/// @file
/// A virtual CPU as the core sees it: the thing that performs guest accesses.
#pragma once

#include <guestmem/export.h>

#include <cstdint>
#include <memory>
#include <optional>

#include "guestmem/arch.hpp"
#include "guestmem/backend.hpp"
#include "guestmem/boot.hpp"
#include "guestmem/error.hpp"
#include "guestmem/fault.hpp"
#include "guestmem/port_io.hpp"
#include "guestmem/registers.hpp"
#include "guestmem/run_result.hpp"
#include "guestmem/system_state.hpp"

namespace guestmem {

class Vm;
struct LookupCache;

/// A vCPU of a Vm. Created by Vm::create_vcpu and owned by the Vm. The same
/// interface on every backend: boot it, run it, read its registers.
///
///     vcpu.boot({.entry = 0x100000, .stack = 0x80000, .x86_tables = 0x1000});
///     auto result = vcpu.run();   // until the guest halts, exits or fails
///
/// Thread safety: a vCPU performs one access at a time; use each vCPU from one
/// thread at a time (vCPUs of one VM may run on different threads at once).
/// request_stop() is the exception: any thread, any time. request_exit() is
/// for fault handlers running on this vCPU's thread.
class GUESTMEM_API Vcpu {
public:
    /// Made by Vm::create_vcpu (the `index`-th vCPU of `vm`); not for direct use.
    Vcpu(Vm& vm, unsigned index);
    ~Vcpu();
    Vcpu(const Vcpu&) = delete;
    Vcpu& operator=(const Vcpu&) = delete;

    /// The VM the vCPU belongs to.
    Vm& vm() const { return vm_; }
    /// 0 for the VM's first vCPU, 1 for the next, ...
    unsigned index() const { return index_; }

    /// The architecture of the vCPU (that of its VM's backend).
    Arch arch() const;

    /// Sets registers and system state so that the next run() starts the
    /// guest as `spec` says, through the architecture layer (guestmem/boot.hpp).
    /// Errors: Errc::invalid_argument (bad entry, stack or tables),
    /// Errc::not_mapped / Errc::permission_denied (x86-64 tables not in
    /// writable RAM), Errc::unsupported (a mode the backend cannot enter).
    Result<void> boot(const BootSpec& spec);
    /// Runs guest code: see VcpuBackend::run(). A run that a fault handler
    /// ended with request_exit() returns StopReason::exited and its status.
    /// Errc::unsupported on the sim backend (use guestmem/sim.hpp there).
    Result<RunResult> run();
    /// Makes the current run, or the next, return StopReason::stopped soon.
    /// Any thread, any time.
    void request_stop() noexcept;
    /// From a fault handler on this vCPU's thread: ends the run once the
    /// current access completes, with StopReason::exited and `status` (the
    /// demo VMM's exit register does this).
    void request_exit(std::int64_t status) noexcept;

    /// The general registers, instruction pointer and flags.
    Result<Registers> registers() const;
    /// Sets them (Errc::invalid_argument for another architecture's
    /// registers, or when called from one of this vCPU's fault handlers,
    /// where an access is still in progress; boot() and
    /// set_system_state() likewise).
    Result<void> set_registers(const Registers& registers);
    /// Control registers, segments, system registers.
    Result<SystemState> system_state() const;
    /// Sets them (Errc::invalid_argument for another architecture's state).
    Result<void> set_system_state(const SystemState& state);
    /// x86 port I/O handler (see VcpuBackend::set_port_io_handler).
    Result<void> set_port_io_handler(PortIoHandler handler);

    /// The fault being handled on this vCPU, or nullptr outside a handler.
    Fault* current_fault() const { return current_fault_; }

    /// The backend's part of the vCPU (for backend-specific extensions).
    VcpuBackend& backend() const { return *backend_; }

    /// An opaque pointer for the embedding layer (the C API keeps its handle here).
    void* user_data() const { return user_data_; }
    /// Sets the pointer user_data() returns.
    void set_user_data(void* data) { user_data_ = data; }

private:
    friend class Vm;
    friend class FaultDispatcher;

    Result<void> check_not_in_handler() const;

    Vm& vm_;
    unsigned index_;
    std::unique_ptr<VcpuBackend> backend_;
    std::unique_ptr<LookupCache> lookup_cache_;
    Fault* current_fault_ = nullptr;
    std::optional<std::int64_t> exit_status_;  // set by request_exit, consumed by run
    void* user_data_ = nullptr;
};

}  // namespace guestmem
