// SPDX-License-Identifier: BSD-2-Clause
/**
 * @file
 * VMX basic exit reasons (bits 15-0 of the VM-exit reason field) under
 * libsel4vm's names; values from the Intel SDM (vol. 3, appendix C). For code
 * that names them: guestmem reports why a run stopped as vm_stop_reason_t
 * (<sel4vm/guestmem.h>), on every backend, and has no VMX exit handlers to
 * index with these. libsel4vm's VMX_EXIT_REASONS name table is left out.
 * Plain macros: C99 and C++.
 */
#ifndef SEL4VM_ARCH_VMEXIT_REASONS_H
#define SEL4VM_ARCH_VMEXIT_REASONS_H

/** Bit 31 of the exit reason: the VM entry failed. */
#define VMX_EXIT_REASONS_FAILED_VMENTRY 0x80000000

#define EXIT_REASON_EXCEPTION_NMI 0
#define EXIT_REASON_EXTERNAL_INTERRUPT 1
#define EXIT_REASON_TRIPLE_FAULT 2
#define EXIT_REASON_PENDING_INTERRUPT 7 /**< interrupt window */
#define EXIT_REASON_NMI_WINDOW 8
#define EXIT_REASON_TASK_SWITCH 9
#define EXIT_REASON_CPUID 10
#define EXIT_REASON_HLT 12
#define EXIT_REASON_INVD 13
#define EXIT_REASON_INVLPG 14
#define EXIT_REASON_RDPMC 15
#define EXIT_REASON_RDTSC 16
#define EXIT_REASON_VMCALL 18
#define EXIT_REASON_VMCLEAR 19
#define EXIT_REASON_VMLAUNCH 20
#define EXIT_REASON_VMPTRLD 21
#define EXIT_REASON_VMPTRST 22
#define EXIT_REASON_VMREAD 23
#define EXIT_REASON_VMRESUME 24
#define EXIT_REASON_VMWRITE 25
#define EXIT_REASON_VMOFF 26
#define EXIT_REASON_VMON 27
#define EXIT_REASON_CR_ACCESS 28
#define EXIT_REASON_DR_ACCESS 29
#define EXIT_REASON_IO_INSTRUCTION 30
#define EXIT_REASON_MSR_READ 31
#define EXIT_REASON_MSR_WRITE 32
#define EXIT_REASON_INVALID_STATE 33 /**< VM entry failed: invalid guest state */
#define EXIT_REASON_MWAIT_INSTRUCTION 36
#define EXIT_REASON_MONITOR_INSTRUCTION 39
#define EXIT_REASON_PAUSE_INSTRUCTION 40
#define EXIT_REASON_MCE_DURING_VMENTRY 41
#define EXIT_REASON_TPR_BELOW_THRESHOLD 43
#define EXIT_REASON_APIC_ACCESS 44
#define EXIT_REASON_EPT_VIOLATION 48
#define EXIT_REASON_EPT_MISCONFIG 49
#define EXIT_REASON_VMX_TIMER 52 /**< VMX-preemption timer expired */
#define EXIT_REASON_WBINVD 54
#define EXIT_REASON_XSETBV 55
#define EXIT_REASON_INVPCID 58

/** One more than the largest reason above (libsel4vm sizes its handler table so). */
#define VM_EXIT_REASON_NUM 59

#endif /* SEL4VM_ARCH_VMEXIT_REASONS_H */
