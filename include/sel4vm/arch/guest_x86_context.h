// SPDX-License-Identifier: BSD-2-Clause
/**
 * @file
 * libsel4vm's x86 vCPU context interface: reading and writing an x86-64
 * vCPU's general registers (as an seL4_VCPUContext, one by one with
 * vcpu_context_reg_t) and its VMCS guest-state fields
 * (<sel4vm/arch/vmcs_fields.h>).
 *
 * One guestmem library runs guests of both architectures, while libsel4vm
 * gives vm_get_thread_context and its three siblings different parameter
 * types on x86 and on ARM. So this header maps libsel4vm's four names onto
 * guestmem's x86-64 functions with macros (vm_get_thread_context becomes
 * vm_x86_get_thread_context, and so on): libsel4vm code compiles unchanged,
 * and log lines name the vm_x86_ function. <sel4vm/arch/guest_arm_context.h>
 * does the same for AArch64, so the two headers cannot be included in one
 * translation unit (the compiler stops with an error); a VMM for both architectures keeps
 * each in its own source file. vm_get_vmcs_field and vm_set_vmcs_field have
 * one meaning and keep their names.
 *
 * guestmem has no VMCS: the VMCS functions read and write the vCPU's state
 * (registers and system state, as vcpu_boot sets it) under the VMCS field
 * encodings, on every backend; see vm_get_vmcs_field for the fields held.
 *
 * Every function checks that the vCPU belongs to an x86-64 VM (vm_get_arch,
 * <sel4vm/guestmem.h>) and refuses others. Each returns 0, or -1 with a log
 * line and nothing changed for: a NULL, forged or destroyed vCPU, a vCPU of
 * an AArch64 VM, a NULL pointer argument, a register or field guestmem does
 * not hold, a value that does not fit the field, or a vCPU that runs
 * (vcpu_run, vm_run) on another thread. Reading is also allowed from the
 * vCPU's own fault and port callbacks, on the thread that runs it; writing
 * only while it does not run (a write under an access in progress would
 * change the instruction being completed). Do not call these for one vCPU
 * from two threads at once. A call holds an idle vCPU for its duration: a
 * vcpu_run or vm_run starting on another thread at that moment fails as for
 * a vCPU that runs already. Same behaviour on every backend (sim, emu, kvm).
 */
#ifndef SEL4VM_ARCH_GUEST_X86_CONTEXT_H
#define SEL4VM_ARCH_GUEST_X86_CONTEXT_H

#ifdef SEL4VM_ARCH_GUEST_ARM_CONTEXT_H
#error \
    "<sel4vm/arch/guest_x86_context.h> and <sel4vm/arch/guest_arm_context.h> give libsel4vm's context functions different types: include one of them per source file"
#endif

#include <guestmem/export.h>

#include <sel4vm/arch/vmcs_fields.h>
#include <sel4vm/guest_vm.h>
#include <sel4vm/sel4_compat.h>

#ifdef __cplusplus
extern "C" {
#endif

/**
 * A general register of an x86-64 guest: its word index in seL4_VCPUContext
 * (libsel4vm's values, those of a build for 64-bit guests). The E-names are
 * the full 64-bit registers.
 */
typedef enum vcpu_context_reg {
    VCPU_CONTEXT_EAX = 0, /**< rax */
    VCPU_CONTEXT_EBX,     /**< rbx */
    VCPU_CONTEXT_ECX,     /**< rcx */
    VCPU_CONTEXT_EDX,     /**< rdx */
    VCPU_CONTEXT_ESI,     /**< rsi */
    VCPU_CONTEXT_EDI,     /**< rdi */
    VCPU_CONTEXT_EBP,     /**< rbp */
    VCPU_CONTEXT_R8,      /**< r8 */
    VCPU_CONTEXT_R9,      /**< r9 */
    VCPU_CONTEXT_R10,     /**< r10 */
    VCPU_CONTEXT_R11,     /**< r11 */
    VCPU_CONTEXT_R12,     /**< r12 */
    VCPU_CONTEXT_R13,     /**< r13 */
    VCPU_CONTEXT_R14,     /**< r14 */
    VCPU_CONTEXT_R15      /**< r15 (the last: 14) */
} vcpu_context_reg_t;

/** libsel4vm's name, for x86-64 guests. */
#define vm_set_thread_context vm_x86_set_thread_context
/** libsel4vm's name, for x86-64 guests. */
#define vm_set_thread_context_reg vm_x86_set_thread_context_reg
/** libsel4vm's name, for x86-64 guests. */
#define vm_get_thread_context vm_x86_get_thread_context
/** libsel4vm's name, for x86-64 guests. */
#define vm_get_thread_context_reg vm_x86_get_thread_context_reg

/**
 * Sets the vCPU's general registers (all but rsp, rip and rflags, which are
 * VMCS fields) from `context`.
 * @return 0; -1 (logged, nothing changed) on the errors in the file comment.
 */
GUESTMEM_API int vm_x86_set_thread_context(vm_vcpu_t *vcpu, seL4_VCPUContext context);
/**
 * Sets one general register.
 * @param vcpu  the vCPU
 * @param reg   VCPU_CONTEXT_EAX to VCPU_CONTEXT_R15
 * @param value the value (64 bits)
 * @return 0; -1 (logged, nothing changed) on the errors in the file comment
 *         (reg out of range included).
 */
GUESTMEM_API int vm_x86_set_thread_context_reg(vm_vcpu_t *vcpu, vcpu_context_reg_t reg, seL4_Word value);
/**
 * Reads the vCPU's general registers into `context`.
 * @return 0; -1 (logged, `context` untouched) on the errors in the file comment.
 */
GUESTMEM_API int vm_x86_get_thread_context(vm_vcpu_t *vcpu, seL4_VCPUContext *context);
/**
 * Reads one general register.
 * @param vcpu  the vCPU
 * @param reg   VCPU_CONTEXT_EAX to VCPU_CONTEXT_R15
 * @param value receives it
 * @return 0; -1 (logged, `value` untouched) on the errors in the file comment.
 */
GUESTMEM_API int vm_x86_get_thread_context_reg(vm_vcpu_t *vcpu, vcpu_context_reg_t reg, seL4_Word *value);

/**
 * Sets a VMCS guest-state field of the vCPU. The fields held (Intel SDM
 * vol. 3, appendix B encodings, <sel4vm/arch/vmcs_fields.h>):
 * VMX_GUEST_RIP, VMX_GUEST_RSP, VMX_GUEST_RFLAGS; VMX_GUEST_CR0, _CR3, _CR4,
 * VMX_GUEST_EFER; for each of ES, CS, SS, DS, FS, GS, LDTR and TR its
 * _SELECTOR (16 bits), _BASE, _LIMIT (32 bits, in bytes) and _ACCESS_RIGHTS
 * (the VMX layout: type, S, DPL, P, L, D/B, G and bit 16 "unusable", which
 * guestmem holds as not-present; AVL and the reserved bits must be 0);
 * VMX_GUEST_GDTR_BASE, _GDTR_LIMIT, VMX_GUEST_IDTR_BASE, _IDTR_LIMIT (16
 * bits). Every other field (control, exit-information and the other guest
 * fields) is refused with a log line naming it: guestmem's backends have no
 * VMCS behind them.
 * @return 0; -1 (logged, nothing changed) on the errors in the file comment,
 *         or a state the backend cannot enter (the emulator runs 64-bit
 *         long mode only).
 */
GUESTMEM_API int vm_set_vmcs_field(vm_vcpu_t *vcpu, seL4_Word field, seL4_Word value);
/**
 * Reads a VMCS guest-state field of the vCPU (those vm_set_vmcs_field takes).
 * @return 0; -1 (logged, `value` untouched) on the errors in the file comment.
 */
GUESTMEM_API int vm_get_vmcs_field(vm_vcpu_t *vcpu, seL4_Word field, seL4_Word *value);

#ifdef __cplusplus
}
#endif

#endif /* SEL4VM_ARCH_GUEST_X86_CONTEXT_H */
