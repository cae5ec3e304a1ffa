// SPDX-License-Identifier: BSD-2-Clause
/**
 * @file
 * A VM's interrupt lines, as libsel4vm's guest_irq_controller.h declares them.
 *
 * vm_create_default_irq_controller gives a VM lines 0 to 1023. A device
 * registers a line for a vCPU with an acknowledge callback (vm_register_irq),
 * then raises it once (vm_inject_irq, an edge) or holds it high and low
 * (vm_set_irq_level, a level). A pending line is delivered to the guest
 * through the interrupt controller the guest programs; when the guest ends
 * the interrupt (its end-of-interrupt), the acknowledge callback runs, and a
 * level line still high is delivered again. A line in service is not
 * delivered again until it is ended; of several pending lines the lowest
 * number is taken first.
 *
 * Backends: the sim backend delivers to tests, which play the guest with
 * vm_sim_take_irq and vm_sim_end_irq (<sel4vm/guestmem.h>); a backend that
 * cannot deliver interrupts to its guests yet refuses
 * vm_create_default_irq_controller, saying so, rather than accept lines it
 * would never deliver.
 *
 * Every call validates its arguments: on invalid input it logs a line naming
 * the function and the reason, returns -1, and changes nothing. Thread safety:
 * every call may be made from any thread, including fault callbacks, device
 * threads and acknowledge callbacks.
 */
#ifndef SEL4VM_GUEST_IRQ_CONTROLLER_H
#define SEL4VM_GUEST_IRQ_CONTROLLER_H

#include <guestmem/export.h>

#include <sel4vm/guest_vm.h>

#ifdef __cplusplus
extern "C" {
#endif

/**
 * Called when the guest ends an interrupt of the line it was registered for,
 * on the thread that ended it (the vCPU's), with no lock held: it may inject
 * again. It must not destroy the VM (vm_destroy refuses while a vCPU runs).
 * @param vcpu   the vCPU the line was registered for
 * @param irq    the line
 * @param cookie the cookie given to vm_register_irq
 */
typedef void (*irq_ack_fn_t)(vm_vcpu_t *vcpu, int irq, void *cookie);

/**
 * Raises line `irq` once (an edge): it is pending until the guest takes it;
 * raising a pending line again changes nothing.
 * @param vcpu a vCPU of the VM (the interrupt goes to the vCPU the line was registered for)
 * @param irq  a registered line
 * @return 0; -1 (logged) for a NULL or destroyed vCPU, a VM without an
 *         interrupt controller, a line out of range or not registered.
 */
GUESTMEM_API int vm_inject_irq(vm_vcpu_t *vcpu, int irq);
/**
 * Holds line `irq` high (irq_level non-zero) or lowers it (0), as a
 * level-triggered device does: while high it is delivered again after each
 * end-of-interrupt; lowering it withdraws a pending interrupt the guest has
 * not taken yet.
 * @return 0; -1 (logged) on the errors of vm_inject_irq.
 */
GUESTMEM_API int vm_set_irq_level(vm_vcpu_t *vcpu, int irq, int irq_level);
/**
 * Registers line `irq` for `vcpu`, with a callback for the guest's
 * end-of-interrupt of it.
 * @param vcpu   the vCPU the line's interrupts go to (vcpu_id below 256)
 * @param irq    the line, 0 to 1023
 * @param ack_fn called at each end-of-interrupt of the line; may be NULL
 * @param cookie passed to ack_fn
 * @return 0; -1 (logged) for a NULL or destroyed vCPU, a VM without an
 *         interrupt controller, a line out of range or registered already.
 */
GUESTMEM_API int vm_register_irq(vm_vcpu_t *vcpu, int irq, irq_ack_fn_t ack_fn, void *cookie);
/**
 * Gives the VM its interrupt controller: lines 0 to 1023, delivered through
 * the controller the backend models for the guest's architecture. Once per VM.
 * @return 0; -1 (logged) for a NULL or destroyed vm, a VM that has one
 *         already, or a backend that cannot deliver interrupts to its guests.
 */
GUESTMEM_API int vm_create_default_irq_controller(vm_t *vm);

#ifdef __cplusplus
}
#endif

#endif /* SEL4VM_GUEST_IRQ_CONTROLLER_H */
