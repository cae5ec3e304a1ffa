// SPDX-License-Identifier: BSD-2-Clause
/**
 * @file
 * libsel4vm's x86 hypercall interface, for code that includes it.
 *
 * Its one function, vm_reg_new_vmcall_handler (a handler for the guest's
 * VMCALL instruction, chosen by the value in eax), is left out: none of
 * guestmem's backends returns a VMCALL to the VMM (the emulator has no VMX:
 * a VMCALL is an invalid instruction there; KVM answers a VMCALL itself,
 * guestmem does not turn on its hypercall exits). A guest
 * asks its VMM for something through a device instead: an I/O port
 * (<sel4vm/arch/ioports.h>) or an emulated memory region. The handler type
 * is kept, for code that defines handlers.
 */
#ifndef SEL4VM_ARCH_VMCALL_H
#define SEL4VM_ARCH_VMCALL_H

#include <sel4vm/guest_vm.h>

#ifdef __cplusplus
extern "C" {
#endif

/** libsel4vm's VMCALL handler type: returns 0 when it handled the call. */
typedef int (*vmcall_handler)(vm_vcpu_t *vcpu);

#ifdef __cplusplus
}
#endif

#endif /* SEL4VM_ARCH_VMCALL_H */
