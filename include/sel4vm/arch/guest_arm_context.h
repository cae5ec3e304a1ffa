// SPDX-License-Identifier: BSD-2-Clause
/**
 * @file
 * libsel4vm's ARM vCPU context interface: reading and writing an AArch64
 * vCPU's general registers (as an seL4_UserContext) and its EL1 system
 * registers (by seL4_VCPUReg number).
 *
 * One guestmem library runs guests of both architectures, while libsel4vm
 * gives vm_get_thread_context and its three siblings different parameter
 * types on ARM and on x86. So this header maps libsel4vm's four names onto
 * guestmem's AArch64 functions with macros (vm_get_thread_context becomes
 * vm_arm_get_thread_context, and so on): libsel4vm code compiles unchanged,
 * and log lines name the vm_arm_ function. <sel4vm/arch/guest_x86_context.h>
 * does the same for x86-64, so the two headers cannot be included in one
 * translation unit (the compiler stops with an error); a VMM for both architectures keeps
 * each in its own source file. vm_get_arm_vcpu_reg and vm_set_arm_vcpu_reg
 * have one meaning and keep their names.
 *
 * Every function checks that the vCPU belongs to an AArch64 VM (vm_get_arch,
 * <sel4vm/guestmem.h>) and refuses others. Each returns 0, or -1 with a log
 * line and nothing changed for: a NULL, forged or destroyed vCPU, a vCPU of
 * an x86-64 VM, a NULL pointer argument, a register index out of range, a
 * register guestmem does not hold, or a vCPU that runs (vcpu_run, vm_run) on
 * another thread. Reading is also allowed from the vCPU's own fault and port
 * callbacks, on the thread that runs it; writing only while it does not run
 * (a write under an access in progress would change the instruction being
 * completed). Do not call these for one vCPU from two threads at once. A
 * call holds an idle vCPU for its duration: a vcpu_run or vm_run starting on
 * another thread at that moment fails as for a vCPU that runs already. Same
 * behaviour on every backend (sim, emu, kvm).
 */
#ifndef SEL4VM_ARCH_GUEST_ARM_CONTEXT_H
#define SEL4VM_ARCH_GUEST_ARM_CONTEXT_H

#ifdef SEL4VM_ARCH_GUEST_X86_CONTEXT_H
#error \
    "<sel4vm/arch/guest_arm_context.h> and <sel4vm/arch/guest_x86_context.h> give libsel4vm's context functions different types: include one of them per source file"
#endif

#include <guestmem/export.h>

#include <stdint.h>

#include <sel4vm/guest_vm.h>
#include <sel4vm/sel4_compat.h>

#ifdef __cplusplus
extern "C" {
#endif

/** libsel4vm's name, for AArch64 guests. */
#define vm_set_thread_context vm_arm_set_thread_context
/** libsel4vm's name, for AArch64 guests. */
#define vm_set_thread_context_reg vm_arm_set_thread_context_reg
/** libsel4vm's name, for AArch64 guests. */
#define vm_get_thread_context vm_arm_get_thread_context
/** libsel4vm's name, for AArch64 guests. */
#define vm_get_thread_context_reg vm_arm_get_thread_context_reg

/**
 * Sets the vCPU's general registers, pc, sp and PSTATE (spsr) from
 * `context`. tpidr_el0 and tpidrro_el0 are not part of guestmem's vCPU
 * state: they must be 0 (as vm_get_thread_context gives them), else -1.
 * @return 0; -1 (logged, nothing changed) on the errors in the file comment
 *         or a state the backend cannot enter.
 */
GUESTMEM_API int vm_arm_set_thread_context(vm_vcpu_t *vcpu, seL4_UserContext context);
/**
 * Sets one register of the vCPU's seL4_UserContext.
 * @param vcpu  the vCPU
 * @param reg   the register's index in seL4_UserContext: the member's
 *              position, counted in words from pc (0 pc, 1 sp, 2 spsr, 3 x0,
 *              ... 33 x28); 34 (tpidr_el0) and 35 (tpidrro_el0) are not held
 *              and refused
 * @param value the value (64 bits)
 * @return 0; -1 (logged, nothing changed) on the errors in the file comment.
 */
GUESTMEM_API int vm_arm_set_thread_context_reg(vm_vcpu_t *vcpu, unsigned int reg, uintptr_t value);
/**
 * Reads the vCPU's registers into `context`; tpidr_el0 and tpidrro_el0 read
 * as 0 (guestmem does not hold them).
 * @return 0; -1 (logged, `context` untouched) on the errors in the file
 *         comment (a NULL context included).
 */
GUESTMEM_API int vm_arm_get_thread_context(vm_vcpu_t *vcpu, seL4_UserContext *context);
/**
 * Reads one register of the vCPU's seL4_UserContext.
 * @param vcpu  the vCPU
 * @param reg   its index, as for vm_set_thread_context_reg (0 to 33)
 * @param value receives it
 * @return 0; -1 (logged, `value` untouched) on the errors in the file comment.
 */
GUESTMEM_API int vm_arm_get_thread_context_reg(vm_vcpu_t *vcpu, unsigned int reg, uintptr_t *value);

/**
 * Sets an EL1 system register of the vCPU. guestmem holds
 * seL4_VCPUReg_SCTLR, seL4_VCPUReg_VBAR and seL4_VCPUReg_TPIDR_EL1 (what
 * puts an EL1 guest in a mode); every other seL4_VCPUReg is refused.
 * @param vcpu  the vCPU
 * @param reg   an seL4_VCPUReg value
 * @param value the value (64 bits)
 * @return 0; -1 (logged, nothing changed) on the errors in the file comment
 *         (a register not held or not an seL4_VCPUReg included) or a value
 *         the backend cannot enter.
 */
GUESTMEM_API int vm_set_arm_vcpu_reg(vm_vcpu_t *vcpu, seL4_Word reg, uintptr_t value);
/**
 * Reads an EL1 system register of the vCPU (those vm_set_arm_vcpu_reg takes).
 * @param vcpu  the vCPU
 * @param reg   an seL4_VCPUReg value
 * @param value receives it
 * @return 0; -1 (logged, `value` untouched) on the errors in the file comment.
 */
GUESTMEM_API int vm_get_arm_vcpu_reg(vm_vcpu_t *vcpu, seL4_Word reg, uintptr_t *value);

#ifdef __cplusplus
}
#endif

#endif /* SEL4VM_ARCH_GUEST_ARM_CONTEXT_H */
