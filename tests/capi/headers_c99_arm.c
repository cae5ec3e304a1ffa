// SPDX-License-Identifier: BSD-2-Clause
/*
 * <sel4vm/arch/guest_arm_context.h> in strict C99, with libsel4vm's ARM
 * signatures (its own file: the header refuses to share one with
 * <sel4vm/arch/guest_x86_context.h>, which headers_c99.c includes).
 */
#include <sel4vm/arch/guest_arm_context.h>
#include <sel4vm/arch/guest_vm_arch.h>
#include <sel4vm/sel4_arch/processor.h>

#include <stddef.h>
#include <stdint.h>

#define STATIC_CHECK(name, cond) typedef char static_check_##name[(cond) ? 1 : -1]

STATIC_CHECK(pc_is_word_0, offsetof(seL4_UserContext, pc) == 0);
STATIC_CHECK(x0_is_word_3, offsetof(seL4_UserContext, x0) == 3 * sizeof(seL4_Word));
STATIC_CHECK(x16_is_word_12, offsetof(seL4_UserContext, x16) == 12 * sizeof(seL4_Word));
STATIC_CHECK(x9_is_word_17, offsetof(seL4_UserContext, x9) == 17 * sizeof(seL4_Word));
STATIC_CHECK(tpidr_el0_is_word_34, offsetof(seL4_UserContext, tpidr_el0) == 34 * sizeof(seL4_Word));

struct arm_signatures {
    int (*set_thread_context)(vm_vcpu_t *, seL4_UserContext);
    int (*set_thread_context_reg)(vm_vcpu_t *, unsigned int, uintptr_t);
    int (*get_thread_context)(vm_vcpu_t *, seL4_UserContext *);
    int (*get_thread_context_reg)(vm_vcpu_t *, unsigned int, uintptr_t *);
    int (*set_arm_vcpu_reg)(vm_vcpu_t *, seL4_Word, uintptr_t);
    int (*get_arm_vcpu_reg)(vm_vcpu_t *, seL4_Word, uintptr_t *);
    smc_handler_callback_fn smc;
    unhandled_vcpu_fault_callback_fn vcpu_fault;
};

static const struct arm_signatures arm_spec = {
    /* libsel4vm's names: macros for the AArch64 functions. */
    vm_set_thread_context,
    vm_set_thread_context_reg,
    vm_get_thread_context,
    vm_get_thread_context_reg,
    vm_set_arm_vcpu_reg,
    vm_get_arm_vcpu_reg,
    NULL,
    NULL,
};

int headers_c99_arm_check(void);

int headers_c99_arm_check(void) {
    uintptr_t value = 0;
    if (arm_spec.get_arm_vcpu_reg(NULL, seL4_VCPUReg_SCTLR, &value) != -1) return 1;
    return arm_spec.get_thread_context_reg(NULL, 0, &value) == -1 ? 0 : 1;
}
