// SPDX-License-Identifier: BSD-2-Clause
/**
 * @file
 * Fields of an ARM exception syndrome (HSR, ESR_EL2), under libsel4vm's
 * names: bits 31-26 the exception class (<sel4vm/sel4_arch/processor.h>
 * names the AArch64 classes), bit 25 IL (a 32-bit instruction), bits 24-0
 * the class-specific syndrome (Arm ARM D17.2.37). Plain macros over an
 * unsigned 32-bit syndrome; C99 and C++.
 */
#ifndef SEL4VM_ARCH_PROCESSOR_H
#define SEL4VM_ARCH_PROCESSOR_H

/** The largest exception class value (6 bits). */
#define HSR_MAX_EXCEPTION (0x3f)

/** Where the exception class starts. */
#define HSR_EXCEPTION_CLASS_SHIFT (26)
/** The exception class bits (unsigned: 0x3f << 26 does not fit an int). */
#define HSR_EXCEPTION_CLASS_MASK ((unsigned int)HSR_MAX_EXCEPTION << HSR_EXCEPTION_CLASS_SHIFT)
/** The exception class of syndrome `hsr`. */
#define HSR_EXCEPTION_CLASS(hsr) (((hsr)&HSR_EXCEPTION_CLASS_MASK) >> HSR_EXCEPTION_CLASS_SHIFT)

/** Where the instruction-length bit is. */
#define HSR_IL_SHIFT (25)
/** The instruction-length bit. */
#define HSR_IL_MASK (1 << HSR_IL_SHIFT)
/** 1 if the trapped instruction was 32 bits long, else 0. */
#define HSR_IL(hsr) (((hsr)&HSR_IL_MASK) >> HSR_IL_SHIFT)

/** The instruction-specific syndrome bits (24-0). */
#define HSR_ISS_MASK (HSR_IL_MASK - 1)

#endif /* SEL4VM_ARCH_PROCESSOR_H */
