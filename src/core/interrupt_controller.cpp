// SPDX-License-Identifier: BSD-2-Clause
// guestmem/interrupts.hpp: a VM's interrupt lines.
#include <string>

#include "guestmem/interrupts.hpp"
#include "guestmem/vcpu.hpp"
#include "guestmem/vm.hpp"

namespace guestmem {

namespace {

std::string line_name(IrqNumber irq) { return "IRQ " + std::to_string(irq); }

Error out_of_range(IrqNumber irq) {
    return fail(Errc::invalid_argument,
                line_name(irq) + " is out of range (0 to " + std::to_string(InterruptController::kMaxIrqs - 1) + ")");
}

}  // namespace

InterruptController::InterruptController(Vm& vm, std::function<void(Vcpu&)> wake)
    : vm_(vm), wake_(std::move(wake)), lines_(kMaxIrqs) {}

InterruptController::~InterruptController() = default;

Result<InterruptController::Line*> InterruptController::registered_line(const Vcpu& vcpu, IrqNumber irq) {
    if (irq >= kMaxIrqs) return out_of_range(irq);
    if (&vcpu.vm() != &vm_) return fail(Errc::invalid_argument, "the vCPU belongs to another VM");
    Line& line = lines_[irq];
    if (!line.state.registered) {
        return fail(Errc::invalid_argument, line_name(irq) + " is not registered (register it first)");
    }
    return &line;
}

bool InterruptController::make_pending(Line& line) {
    if (line.state.pending || line.state.in_service) return false;
    line.state.pending = true;
    ++line.state.raised;
    pending_count_[line.state.target].fetch_add(1, std::memory_order_release);
    return true;
}

Result<void> InterruptController::register_irq(Vcpu& vcpu, IrqNumber irq, IrqAckHandler ack) {
    ApiCall call("InterruptController::register_irq");
    if (irq >= kMaxIrqs) return out_of_range(irq);
    if (&vcpu.vm() != &vm_) return fail(Errc::invalid_argument, "the vCPU belongs to another VM");
    if (vcpu.index() >= kMaxVcpus) {
        return fail(Errc::invalid_argument, "interrupts reach vCPUs 0 to " + std::to_string(kMaxVcpus - 1) +
                                                ", not vCPU " + std::to_string(vcpu.index()));
    }
    std::lock_guard lock(mutex_);
    Line& line = lines_[irq];
    if (line.state.registered) {
        return fail(Errc::invalid_argument,
                    line_name(irq) + " is registered already (for vCPU " + std::to_string(line.state.target) + ")");
    }
    line.state.registered = true;
    line.state.target = vcpu.index();
    line.ack = std::move(ack);
    return {};
}

Result<void> InterruptController::inject(Vcpu& vcpu, IrqNumber irq) {
    ApiCall call("InterruptController::inject");
    Vcpu* target = nullptr;
    {
        std::lock_guard lock(mutex_);
        auto line = registered_line(vcpu, irq);
        if (!line) return line.error();
        if (make_pending(**line)) target = vm_.vcpu((*line)->state.target);
    }
    if (target && wake_) wake_(*target);
    return {};
}

Result<void> InterruptController::set_level(Vcpu& vcpu, IrqNumber irq, bool high) {
    ApiCall call("InterruptController::set_level");
    Vcpu* target = nullptr;
    {
        std::lock_guard lock(mutex_);
        auto line = registered_line(vcpu, irq);
        if (!line) return line.error();
        Line& l = **line;
        l.state.level_high = high;
        if (high) {
            if (make_pending(l)) target = vm_.vcpu(l.state.target);
        } else if (l.state.pending) {
            // Lowered before the guest took it: the device no longer asks.
            l.state.pending = false;
            pending_count_[l.state.target].fetch_sub(1, std::memory_order_release);
        }
    }
    if (target && wake_) wake_(*target);
    return {};
}

bool InterruptController::has_pending(const Vcpu& vcpu) const noexcept {
    return vcpu.index() < kMaxVcpus && pending_count_[vcpu.index()].load(std::memory_order_acquire) != 0;
}

std::optional<IrqNumber> InterruptController::next_pending(const Vcpu& vcpu) const {
    if (!has_pending(vcpu)) return std::nullopt;
    std::lock_guard lock(mutex_);
    for (IrqNumber irq = 0; irq < kMaxIrqs; ++irq) {
        const IrqLineState& s = lines_[irq].state;
        if (s.pending && s.target == vcpu.index()) return irq;
    }
    return std::nullopt;
}

Result<void> InterruptController::take(Vcpu& vcpu, IrqNumber irq) {
    ApiCall call("InterruptController::take");
    std::lock_guard lock(mutex_);
    auto line = registered_line(vcpu, irq);
    if (!line) return line.error();
    IrqLineState& s = (*line)->state;
    if (!s.pending || s.target != vcpu.index()) {
        return fail(Errc::invalid_argument,
                    line_name(irq) + " is not pending for vCPU " + std::to_string(vcpu.index()));
    }
    s.pending = false;
    s.in_service = true;
    pending_count_[s.target].fetch_sub(1, std::memory_order_release);
    return {};
}

Result<void> InterruptController::end(Vcpu& vcpu, IrqNumber irq) {
    ApiCall call("InterruptController::end");
    IrqAckHandler ack;
    Vcpu* target = nullptr;
    {
        std::lock_guard lock(mutex_);
        auto line = registered_line(vcpu, irq);
        if (!line) return line.error();
        Line& l = **line;
        if (!l.state.in_service || l.state.target != vcpu.index()) {
            return fail(Errc::invalid_argument,
                        line_name(irq) + " is not in service on vCPU " + std::to_string(vcpu.index()));
        }
        l.state.in_service = false;
        ++l.state.acknowledged;
        if (l.state.level_high && make_pending(l)) target = &vcpu;
        ack = l.ack;  // a copy: the handler runs without the lock
    }
    if (ack) {
        ApiCall::UserCode user_code;  // the handler's own calls log under their names
        ack(vcpu, irq);
    }
    if (target && wake_) wake_(*target);
    return {};
}

Result<IrqLineState> InterruptController::state(IrqNumber irq) const {
    if (irq >= kMaxIrqs) return out_of_range(irq);
    std::lock_guard lock(mutex_);
    return lines_[irq].state;
}

std::vector<IrqNumber> InterruptController::pending(const Vcpu& vcpu) const {
    std::vector<IrqNumber> out;
    std::lock_guard lock(mutex_);
    for (IrqNumber irq = 0; irq < kMaxIrqs; ++irq) {
        const IrqLineState& s = lines_[irq].state;
        if (s.pending && s.target == vcpu.index()) out.push_back(irq);
    }
    return out;
}

}  // namespace guestmem
