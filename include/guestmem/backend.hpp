// SPDX-License-Identifier: BSD-2-Clause
/// @file
/// The interface between the hypervisor-independent core and a hypervisor backend.
#pragma once

#include <guestmem/export.h>

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>

#include "guestmem/arch.hpp"
#include "guestmem/error.hpp"
#include "guestmem/port_io.hpp"
#include "guestmem/registers.hpp"
#include "guestmem/run_result.hpp"
#include "guestmem/system_state.hpp"
#include "guestmem/types.hpp"

namespace guestmem {

class DirtyLog;

class Vcpu;
class Vm;

/// A run of guest-physical memory backed by host memory that is contiguous in
/// both, with one set of rights (Rights::read or Rights::read_write).
struct MappedRun {
    GuestAddr gpa = 0;             ///< first guest-physical address
    std::uint64_t size = 0;        ///< bytes
    std::byte* host = nullptr;     ///< the VMM's view of the first byte
    Rights rights = Rights::none;  ///< Rights::read or Rights::read_write
    /// Where writes to the run are recorded while dirty tracking is on (the
    /// frames' arena; nullptr for memory no tracker can see). Core-internal.
    DirtyLog* dirty = nullptr;

    /// One past the last guest-physical address.
    GuestAddr end() const { return gpa + size; }
    /// True when the guest may write the run.
    bool writable() const { return has_rights(rights, Rights::write); }
};

/// The backend's part of a vCPU: what Vcpu forwards to. Backends that run no
/// guest code (sim) keep a register file and refuse run() with Errc::unsupported.
///
/// Thread safety: one thread at a time calls run(), the register functions
/// and set_port_io_handler(); request_stop() may be called from any thread at
/// any time, also from a fault handler on the vCPU's own thread.
class GUESTMEM_API VcpuBackend {
public:
    virtual ~VcpuBackend();
    /// The guest instruction pointer at the current access (inside a fault
    /// handler) or where the vCPU stands (outside one).
    virtual GuestAddr instruction_pointer() = 0;

    /// Runs guest code until the guest halts, an access ends in an error, the
    /// guest takes an exception it cannot handle, or request_stop() ends the
    /// run. Every access the hypervisor cannot complete goes to Vm::dispatch
    /// on this thread. Guest misbehaviour is a RunResult, not an error; the
    /// Result fails only when the vCPU cannot run (Errc::unsupported,
    /// Errc::invalid_argument when it already runs on another thread,
    /// Errc::backend_error). On return the vCPU's state is consistent: a
    /// failed access was completed as if ignored, so another run() continues
    /// after it.
    virtual Result<RunResult> run() { return fail(Errc::unsupported, "this backend runs no guest code"); }
    /// Makes the current run (or, if none is in progress, the next one)
    /// return StopReason::stopped soon.
    virtual void request_stop() noexcept {}

    /// The general registers, instruction pointer and flags.
    virtual Result<Registers> registers() { return fail(Errc::unsupported, "this vCPU has no registers"); }
    /// Sets them; Errc::invalid_argument when `registers` is of another architecture.
    virtual Result<void> set_registers(const Registers& registers) {
        (void)registers;
        return fail(Errc::unsupported, "this vCPU has no registers");
    }
    /// The architecture state beyond the general registers.
    virtual Result<SystemState> system_state() { return fail(Errc::unsupported, "this vCPU has no system state"); }
    /// Sets it; Errc::invalid_argument when of another architecture,
    /// Errc::unsupported when the backend cannot enter that state.
    virtual Result<void> set_system_state(const SystemState& state) {
        (void)state;
        return fail(Errc::unsupported, "this vCPU has no system state");
    }

    /// x86 port I/O: sets (or with an empty handler removes) the handler of
    /// IN and OUT. Without one, any IN or OUT stops the run with
    /// StopReason::port_io_error. Errc::unsupported on AArch64 and on
    /// backends without port I/O.
    // NOLINTNEXTLINE(performance-unnecessary-value-param): by value for the overrides, which keep it
    virtual Result<void> set_port_io_handler(PortIoHandler handler) {
        (void)handler;
        return fail(Errc::unsupported, "this vCPU has no port I/O");
    }

    /// A line of this vCPU became pending (InterruptController): wake the
    /// vCPU if it sleeps in HLT or WFI. Any thread; must not block.
    virtual void interrupt_pending() noexcept {}
};

/// A fast path a backend set up for one reservation (Backend::add_doorbell,
/// Backend::add_write_posting). The core owns it for the reservation's life.
class GUESTMEM_API FastPath {
public:
    virtual ~FastPath();
    /// Stops the hypervisor from taking the fast path: later guest accesses
    /// exit to the VMM as usual. Called by the core, under the VM's change
    /// lock, while the reservation is being freed; idempotent; must not wait
    /// for handlers. The destructor (called later, outside the lock) finishes
    /// the job: it delivers what is still pending and waits for delivery to end.
    virtual void detach() noexcept = 0;
};

/// A doorbell: guest writes of exactly `size` bytes at `addr` (with the value
/// `match`, if set) that the hypervisor can signal without a vCPU exit.
struct DoorbellSpec {
    GuestAddr addr = 0;                  ///< the doorbell register
    std::uint8_t size = 0;               ///< 1, 2, 4 or 8
    std::optional<std::uint64_t> match;  ///< only writes of this value ring
};

/// Receives `count` (at least 1) doorbell rings signalled since the last call.
using DoorbellRing = std::function<void(std::uint64_t count)>;

/// A hypervisor. The core tells it which guest memory is mapped; the backend
/// makes guest accesses to that memory hit it directly and delivers every other
/// access to the core's fault dispatch (Vm::dispatch).
///
/// Thread safety: install/uninstall/create_vcpu are serialised by the Vm;
/// they may run while vCPU threads run guests.
class GUESTMEM_API Backend {
public:
    virtual ~Backend();
    /// Which hypervisor this is.
    virtual BackendKind kind() const = 0;
    /// The architecture of the VM's vCPUs.
    virtual Arch arch() const { return host_arch(); }
    /// Makes the runs guest memory. All or nothing: on error nothing stays installed.
    virtual Result<void> install(std::span<const MappedRun> runs) = 0;
    /// Removes runs installed by one earlier install() call.
    virtual void uninstall(std::span<const MappedRun> runs) noexcept = 0;
    /// Creates the backend's part of a new vCPU of the Vm (called by Vm::create_vcpu).
    virtual Result<std::unique_ptr<VcpuBackend>> create_vcpu(Vcpu& vcpu) = 0;

    /// Whether guests of this backend take the interrupts of a VM's
    /// InterruptController (Vm::create_default_irq_controller); otherwise an
    /// Errc::unsupported error (not logged: the caller names the backend)
    /// whose message completes "the <backend> backend ...".
    virtual Result<void> supports_interrupts() const {
        return Error{Errc::unsupported, "does not deliver interrupts to its guests yet"};
    }
    /// Called by Vm::create_default_irq_controller once supports_interrupts()
    /// said yes, before the controller is published: a backend that models the
    /// guest's interrupt controller hardware in guest memory sets it up here
    /// (the emu backend reserves the x86 local APIC and I/O APIC pages). On
    /// error the VM gets no controller and the error is the caller's, with
    /// its message completing "the <backend> backend ...".
    virtual Result<void> attach_interrupt_controller(Vm& vm) {
        (void)vm;
        return {};
    }

    // Dirty logging (Vm::start_dirty_tracking). Writes that reach the core
    // (Vm::dispatch, VMM-side copies) are recorded by the core; a backend
    // must record the guest writes its hypervisor performs on its own. The
    // core calls these with the capability space's tracker lock held; they
    // must not call back into a Vm.

    /// Starts logging guest writes to installed runs and to runs installed
    /// later. Errc::unsupported (the default) when the backend cannot: the
    /// message says why.
    virtual Result<void> start_dirty_log() { return fail(Errc::unsupported, "this backend cannot track guest writes"); }
    /// Stops logging (after a successful start_dirty_log()).
    virtual void stop_dirty_log() noexcept {}
    /// Records every guest write logged since the last call into the dirty
    /// log of the frames written (MappedRun::dirty), so a tracker collecting
    /// next sees it. Also called before a run with logged writes is
    /// uninstalled, by the backend itself. Errors: Errc::backend_error.
    virtual Result<void> harvest_dirty_log() { return {}; }

    // Optional fast paths. Both return nullptr when the backend has none (the
    // sim backend, or a KVM without the capability): the core then delivers
    // the accesses itself, synchronously, through fault dispatch, with the same
    // meaning. Called under the VM's change lock.

    /// Signals matching guest writes to `ring` on a backend thread, without a
    /// vCPU exit. Writes that do not match still reach Vm::dispatch.
    // NOLINTNEXTLINE(performance-unnecessary-value-param): by value for the overrides, which keep it
    virtual Result<std::unique_ptr<FastPath>> add_doorbell(const DoorbellSpec& spec, DoorbellRing ring) {
        (void)spec;
        (void)ring;
        return std::unique_ptr<FastPath>();
    }
    /// Queues guest writes to `range` without a vCPU exit. The backend must hand
    /// every queued write to Vm::dispatch, in order, before it dispatches any
    /// other access of the VM (so a read of the device sees its earlier writes),
    /// and at the latest when the vCPU that made them next exits.
    virtual Result<std::unique_ptr<FastPath>> add_write_posting(Range range) {
        (void)range;
        return std::unique_ptr<FastPath>();
    }
};

}  // namespace guestmem
