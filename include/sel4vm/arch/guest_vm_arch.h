// SPDX-License-Identifier: BSD-2-Clause
/**
 * @file
 * The parts of libsel4vm's architecture VM headers (x86 and ARM) that have a
 * meaning with guestmem, for code that includes <sel4vm/arch/guest_vm_arch.h>.
 * One header for both architectures (one guestmem library runs both): none
 * of its names clash.
 *
 * x86: the default local and I/O APIC addresses, the port I/O interface
 * (<sel4vm/arch/ioports.h>) and the exit reason numbers
 * (<sel4vm/arch/vmexit_reasons.h>). ARM: the SMC and unhandled vCPU fault
 * callback types, for code that defines such functions.
 *
 * Left out: struct vm_arch and struct vm_vcpu_arch (guestmem's struct vm and
 * struct vm_vcpu have no arch members: the port table lives in the library,
 * the rest are seL4 objects or exit handler tables guestmem does not have);
 * x86's vmexit_handler_ptr and vmcall_handler_t (tables of struct vm_arch),
 * guest_state_t, vm_lapic_t, i8259_t (seL4-side VMX and interrupt
 * controller state); ARM's VM_CSPACE_SIZE_BITS, VM_FAULT_EP_SLOT and
 * VM_CSPACE_SLOT (seL4 CSpace slots), vm_register_unhandled_vcpu_fault_callback
 * and vm_register_smc_handler_callback (guestmem's backends do not deliver
 * ARM exception syndromes or SMC calls to the VMM: a guest exception stops
 * the run with VM_STOP_EXCEPTION).
 */
#ifndef SEL4VM_ARCH_GUEST_VM_ARCH_H
#define SEL4VM_ARCH_GUEST_VM_ARCH_H

#include <stdint.h>

#include <sel4vm/arch/ioports.h>
#include <sel4vm/arch/vmexit_reasons.h>
#include <sel4vm/guest_vm_types.h>
#include <sel4vm/sel4_compat.h>

#ifdef __cplusplus
extern "C" {
#endif

/** x86: the I/O APIC's default physical base address. */
#define IO_APIC_DEFAULT_PHYS_BASE 0xfec00000
/** x86: the local APIC's default physical base address. */
#define APIC_DEFAULT_PHYS_BASE 0xfee00000

/**
 * ARM: libsel4vm's SMC handler type (its vm_register_smc_handler_callback is
 * left out, see above).
 */
typedef int (*smc_handler_callback_fn)(vm_vcpu_t *vcpu, seL4_UserContext *regs);
/**
 * ARM: libsel4vm's unhandled vCPU fault callback type, with the exception
 * syndrome `hsr` (its vm_register_unhandled_vcpu_fault_callback is left out,
 * see above).
 */
typedef int (*unhandled_vcpu_fault_callback_fn)(vm_vcpu_t *vcpu, uint32_t hsr, void *cookie);

#ifdef __cplusplus
}
#endif

#endif /* SEL4VM_ARCH_GUEST_VM_ARCH_H */
