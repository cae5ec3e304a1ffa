// SPDX-License-Identifier: BSD-2-Clause
/// @file
/// A VM's interrupt lines as its devices and its guest see them: the state
/// behind libsel4vm's guest_irq_controller.h (vm_register_irq, vm_inject_irq,
/// vm_set_irq_level), independent of the interrupt controller the guest
/// programs (a local APIC and I/O APIC, a GIC), which each backend models on
/// top of it.
///
/// Example (sim backend, where the test plays the guest):
///
///     InterruptController& irqs = vm->create_default_irq_controller().value();
///     irqs.register_irq(vcpu, 5, [](Vcpu&, IrqNumber) { /* device: line done */ }).value();
///     irqs.set_level(vcpu, 5, true).value();       // pending for vcpu
///     sim::take_interrupt(vcpu);                      // the guest takes it: 5, now in service
///     sim::end_of_interrupt(vcpu, 5).value();         // the ack handler runs; 5 is pending again
#pragma once

#include <guestmem/export.h>

#include <array>
#include <atomic>
#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <vector>

#include "guestmem/error.hpp"

namespace guestmem {

class Vcpu;
class Vm;

/// An interrupt line's number: 0 to InterruptController::kMaxIrqs - 1. What a
/// number means to the guest (an I/O APIC pin, a GIC interrupt ID) is the
/// backend's interrupt controller model's; the sim backend gives it none.
using IrqNumber = std::uint32_t;

/// Called when the guest ends an interrupt of the line it was registered for
/// (its end-of-interrupt), on the thread that performed it (the vCPU's, or
/// the sim test's), with no lock of the controller held: it may inject again.
/// It must not destroy the VM.
using IrqAckHandler = std::function<void(Vcpu& vcpu, IrqNumber irq)>;

/// One line as the controller sees it now (for tests and reports).
struct IrqLineState {
    bool registered = false;         ///< register_irq was called for it
    unsigned target = 0;             ///< the index of the vCPU it was registered for
    bool level_high = false;         ///< set_level(true) and no set_level(false) since
    bool pending = false;            ///< raised, not yet taken by the guest
    bool in_service = false;         ///< taken by the guest, not yet ended
    std::uint64_t raised = 0;        ///< times it became pending
    std::uint64_t acknowledged = 0;  ///< times the guest ended it (ack handler calls)
    /// Equal when every member is.
    friend bool operator==(const IrqLineState&, const IrqLineState&) = default;
};

/// The interrupt lines of one VM (Vm::create_default_irq_controller).
///
/// Semantics (libsel4vm's): a line is registered once, for one vCPU, with an
/// acknowledge handler. inject() raises it once (edge): it is pending until
/// the guest takes it, and raising a pending line again changes nothing.
/// set_level(true) holds it high (level): it is pending whenever it is high
/// and not in service, so after the guest's end-of-interrupt it is delivered
/// again while it stays high; set_level(false) lowers it and withdraws a
/// pending, not yet taken, interrupt. A line in service is not delivered
/// again until the guest ends it. Of several pending lines, the lowest number
/// is taken first.
///
/// Errors: Errc::invalid_argument (a number out of range, a line not
/// registered or registered twice, a vCPU of another VM, taking or ending a
/// line that is not pending or in service). State is unchanged on error.
///
/// Thread safety: every member may be called from any thread at once,
/// including from fault callbacks, device threads and ack handlers; a line's
/// changes are serialised by one lock, never held while a handler runs.
class GUESTMEM_API InterruptController {
public:
    /// Lines per VM.
    static constexpr IrqNumber kMaxIrqs = 1024;
    /// Lines may be registered for vCPUs 0 to kMaxVcpus - 1.
    static constexpr unsigned kMaxVcpus = 256;

    /// Made by Vm::create_default_irq_controller; `wake(vcpu)` is called
    /// (with no lock held) whenever a line of `vcpu` becomes pending, so that
    /// the backend can wake a vCPU sleeping in HLT or WFI.
    InterruptController(Vm& vm, std::function<void(Vcpu&)> wake);
    ~InterruptController();
    InterruptController(const InterruptController&) = delete;
    InterruptController& operator=(const InterruptController&) = delete;

    /// Registers line `irq` for `vcpu`, with `ack` for the guest's ends of it (may be empty).
    Result<void> register_irq(Vcpu& vcpu, IrqNumber irq, IrqAckHandler ack);
    /// Raises the line once (an edge). `vcpu` must be of this VM; the
    /// interrupt goes to the vCPU the line was registered for.
    Result<void> inject(Vcpu& vcpu, IrqNumber irq);
    /// Holds the line high (true) or lowers it (false), as a level-triggered device does.
    Result<void> set_level(Vcpu& vcpu, IrqNumber irq, bool high);

    // The guest's side: the backends' interrupt controller models (and the
    // sim backend's take_interrupt/end_of_interrupt) call these.

    /// Whether any line of `vcpu` is pending. Lock-free; for run loops.
    bool has_pending(const Vcpu& vcpu) const noexcept;
    /// The pending line of `vcpu` the guest would take next, if any.
    std::optional<IrqNumber> next_pending(const Vcpu& vcpu) const;
    /// The guest took `irq`: pending to in service.
    Result<void> take(Vcpu& vcpu, IrqNumber irq);
    /// The guest ended `irq`: not in service; its ack handler runs; a level
    /// line still high is pending again.
    Result<void> end(Vcpu& vcpu, IrqNumber irq);

    /// One line's state. Errc::invalid_argument for a number out of range.
    Result<IrqLineState> state(IrqNumber irq) const;
    /// The pending lines of `vcpu`, lowest first.
    std::vector<IrqNumber> pending(const Vcpu& vcpu) const;

private:
    struct Line {
        IrqLineState state;
        IrqAckHandler ack;
    };
    /// Checks the number and the vCPU, and that the line is registered.
    Result<Line*> registered_line(const Vcpu& vcpu, IrqNumber irq);
    /// Marks `line` pending if it may be; true if it became pending.
    bool make_pending(Line& line);

    Vm& vm_;
    std::function<void(Vcpu&)> wake_;
    mutable std::mutex mutex_;
    std::vector<Line> lines_;  // kMaxIrqs, under mutex_
    /// Pending lines per vCPU index, for has_pending without the lock.
    std::array<std::atomic<std::uint32_t>, kMaxVcpus> pending_count_{};
};

}  // namespace guestmem
