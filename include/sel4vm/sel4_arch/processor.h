// SPDX-License-Identifier: BSD-2-Clause
/**
 * @file
 * AArch64 processor modes (the M[3:0] field of PSTATE/SPSR, as in
 * seL4_UserContext's spsr) and exception classes (HSR_EXCEPTION_CLASS of a
 * syndrome), under libsel4vm's names; values from the Arm ARM (C5.2.19 for
 * the modes, D17.2.37 for the exception classes). C99 and C++.
 *
 * libsel4vm's version also has seL4_UnknownSyscall_ARG0 (an seL4 fault
 * message index: guestmem delivers no seL4 fault messages) and a static
 * table of class names built with a GNU range initialiser (not C99): both
 * are left out.
 */
#ifndef SEL4VM_SEL4_ARCH_PROCESSOR_H
#define SEL4VM_SEL4_ARCH_PROCESSOR_H

#include <sel4vm/arch/processor.h>
#include <sel4vm/sel4_compat.h>

#ifdef __cplusplus
extern "C" {
#endif

/** An AArch64 exception level and stack pointer choice (PSTATE.M[3:0]). */
typedef enum processor_mode {
    PMODE_EL3h = 0xd, /**< EL3 on SP_EL3 */
    PMODE_EL3t = 0xc, /**< EL3 on SP_EL0 */
    PMODE_EL2h = 0x9, /**< EL2 on SP_EL2 */
    PMODE_EL2t = 0x8, /**< EL2 on SP_EL0 */
    PMODE_EL1h = 0x5, /**< EL1 on SP_EL1 (how vcpu_boot starts an AArch64 guest) */
    PMODE_EL1t = 0x4, /**< EL1 on SP_EL0 */
    PMODE_EL0t = 0x0  /**< EL0 */
} processor_mode_t;

/* Exception classes (HSR_EXCEPTION_CLASS values). */
#define HSR_UNKNOWN_EXCEPTION (0x0)      /**< unknown reason */
#define HSR_WFx_EXCEPTION (0x1)          /**< WFI or WFE */
#define HSR_CP15_32_EXCEPTION (0x3)      /**< AArch32 MCR/MRC to CP15 */
#define HSR_CP15_64_EXCEPTION (0x4)      /**< AArch32 MCRR/MRRC to CP15 */
#define HSR_CP14_32_EXCEPTION (0x5)      /**< AArch32 MCR/MRC to CP14 */
#define HSR_CP14_LC_32_EXCEPTION (0x6)   /**< AArch32 LDC/STC to CP14 */
#define HSR_SIMD_EXCEPTION (0x7)         /**< SIMD or floating point access trapped */
#define HSR_CP10_EXCEPTION (0x8)         /**< AArch32 VMRS (CP10) */
#define HSR_CP14_EXCEPTION (0xC)         /**< AArch32 MRRC to CP14 */
#define HSR_ILLEGAL_EXCEPTION (0xE)      /**< illegal execution state */
#define HSR_SVC_32_EXCEPTION (0x11)      /**< AArch32 SVC */
#define HSR_HVC_32_EXCEPTION (0x12)      /**< AArch32 HVC */
#define HSR_SMC_32_EXCEPTION (0x13)      /**< AArch32 SMC */
#define HSR_SVC_64_EXCEPTION (0x15)      /**< AArch64 SVC */
#define HSR_HVC_64_EXCEPTION (0x16)      /**< AArch64 HVC */
#define HSR_SMC_64_EXCEPTION (0x17)      /**< AArch64 SMC */
#define HSR_SYSREG_64_EXCEPTION (0x18)   /**< AArch64 MSR/MRS/system instruction */
#define HSR_IMPL_DEF_EXCEPTION (0x1f)    /**< implementation defined, to EL3 */
#define HSR_IABT_LOW_EXCEPTION (0x20)    /**< instruction abort from a lower level */
#define HSR_IABT_CURR_EXCEPTION (0x21)   /**< instruction abort at the same level */
#define HSR_PC_ALIGN_EXCEPTION (0x22)    /**< PC alignment fault */
#define HSR_DABT_LOW_EXCEPTION (0x24)    /**< data abort from a lower level */
#define HSR_DABT_CUR_EXCEPTION (0x25)    /**< data abort at the same level */
#define HSR_SP_ALIGN_EXCEPTION (0x26)    /**< SP alignment fault */
#define HSR_FP32_EXCEPTION (0x28)        /**< AArch32 floating point exception */
#define HSR_FP64_EXCEPTION (0x2C)        /**< AArch64 floating point exception */
#define HSR_SERROR_EXCEPTION (0x2F)      /**< SError interrupt */
#define HSR_BRK_LOW_EXCEPTION (0x30)     /**< breakpoint from a lower level */
#define HSR_BRK_CUR_EXCEPTION (0x31)     /**< breakpoint at the same level */
#define HSR_SWSTEP_LOW_EXCEPTION (0x32)  /**< software step from a lower level */
#define HSR_SWSTEP_CUR_EXCEPTION (0x33)  /**< software step at the same level */
#define HSR_WATCHPT_LOW_EXCEPTION (0x34) /**< watchpoint from a lower level */
#define HSR_WATCHPT_CUR_EXCEPTION (0x35) /**< watchpoint at the same level */
#define HSR_SWBRK_32_EXCEPTION (0x38)    /**< AArch32 BKPT */
#define HSW_VECTOR_32_EXCEPTION (0x3a)   /**< AArch32 vector catch (libsel4vm's spelling, HSW) */
#define HSR_SWBRK_64_EXCEPTION (0x3c)    /**< AArch64 BRK */

#ifdef __cplusplus
}
#endif

#endif /* SEL4VM_SEL4_ARCH_PROCESSOR_H */
