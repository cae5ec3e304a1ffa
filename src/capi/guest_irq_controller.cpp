// SPDX-License-Identifier: BSD-2-Clause
// <sel4vm/guest_irq_controller.h> and guestmem's interrupt calls of
// <sel4vm/guestmem.h> over guestmem::InterruptController.
#include "sel4vm/guest_irq_controller.h"

#include <string>

#include "guestmem/interrupts.hpp"
#include "guestmem/sim.hpp"
#include "guestmem/vcpu.hpp"
#include "handles.hpp"
#include "sel4vm/guestmem.h"

using namespace guestmem;

namespace {

/// False (logged) for a negative line: the C calls take an int.
bool nonnegative(int irq) {
    if (irq >= 0) return true;
    (void)fail(Errc::invalid_argument, "IRQ " + std::to_string(irq) + " is negative");
    return false;
}

/// The VM's interrupt controller; null (logged) before vm_create_default_irq_controller.
InterruptController* controller_of(const Vm& vm) {
    InterruptController* irqs = vm.irq_controller();
    if (!irqs) {
        (void)fail(Errc::not_initialized, "the VM has no interrupt controller (vm_create_default_irq_controller)");
    }
    return irqs;
}

/// The interrupt controller of a live vCPU's VM, for a line that is not
/// negative; null (logged) for a dead vCPU, a negative line, a VM without one.
InterruptController* controller_for(Vcpu* vcpu, int irq) {
    if (!vcpu || !nonnegative(irq)) return nullptr;
    return controller_of(vcpu->vm());
}

}  // namespace

extern "C" {

int vm_create_default_irq_controller(vm_t* vm) {
    ApiCall call(__func__);
    Vm* core = capi::live_vm(vm);
    return core && core->create_default_irq_controller() ? 0 : -1;
}

int vm_register_irq(vm_vcpu_t* vcpu, int irq, irq_ack_fn_t ack_fn, void* cookie) {
    ApiCall call(__func__);
    capi::VcpuHandle* handle = capi::live_vcpu_handle(vcpu);
    InterruptController* irqs = controller_for(handle ? handle->core : nullptr, irq);
    if (!irqs) return -1;
    IrqAckHandler ack;
    if (ack_fn) {
        ack = [ack_fn, cookie](Vcpu& on, IrqNumber line) {
            auto* view = static_cast<capi::VcpuHandle*>(on.user_data());
            ack_fn(view ? &view->view : nullptr, static_cast<int>(line), cookie);
        };
    }
    return irqs->register_irq(*handle->core, static_cast<IrqNumber>(irq), std::move(ack)) ? 0 : -1;
}

int vm_inject_irq(vm_vcpu_t* vcpu, int irq) {
    ApiCall call(__func__);
    Vcpu* core = capi::live_vcpu(vcpu);
    InterruptController* irqs = controller_for(core, irq);
    return irqs && irqs->inject(*core, static_cast<IrqNumber>(irq)) ? 0 : -1;
}

int vm_set_irq_level(vm_vcpu_t* vcpu, int irq, int irq_level) {
    ApiCall call(__func__);
    Vcpu* core = capi::live_vcpu(vcpu);
    InterruptController* irqs = controller_for(core, irq);
    return irqs && irqs->set_level(*core, static_cast<IrqNumber>(irq), irq_level != 0) ? 0 : -1;
}

int vm_get_irq_state(vm_t* vm, int irq, vm_irq_state_t* state) {
    ApiCall call(__func__);
    Vm* core = capi::live_vm(vm);
    if (!core || !capi::present(state, "state")) return -1;
    InterruptController* irqs = controller_of(*core);
    if (!irqs || !nonnegative(irq)) return -1;
    auto line = irqs->state(static_cast<IrqNumber>(irq));
    if (!line) return -1;
    *state = vm_irq_state_t{line->registered, line->target, line->level_high,  line->pending,
                            line->in_service, line->raised, line->acknowledged};
    return 0;
}

int vm_sim_take_irq(vm_vcpu_t* vcpu, int* irq) {
    ApiCall call(__func__);
    Vcpu* core = capi::live_vcpu(vcpu);
    if (!core || !capi::present(irq, "irq")) return -1;
    auto taken = sim::take_interrupt(*core);
    if (!taken) return -1;
    *irq = static_cast<int>(*taken);
    return 0;
}

int vm_sim_end_irq(vm_vcpu_t* vcpu, int irq) {
    ApiCall call(__func__);
    capi::VcpuHandle* handle = capi::live_vcpu_handle(vcpu);
    if (!handle || !nonnegative(irq)) return -1;
    // As while the guest runs: the acknowledge callback may not destroy the VM.
    if (handle->running.exchange(true)) {
        (void)fail(Errc::invalid_argument, "vCPU " + std::to_string(handle->view.vcpu_id) + " is running");
        return -1;
    }
    const bool ok = static_cast<bool>(sim::end_of_interrupt(*handle->core, static_cast<IrqNumber>(irq)));
    handle->running = false;
    return ok ? 0 : -1;
}

}  // extern "C"
