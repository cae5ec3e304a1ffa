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
#define VMX_EXIT_REASONS_FAILED_VMENTRY 0x80000000 /**< exit reason: SONS FAILED VMENTRY */

#define EXIT_REASON_EXCEPTION_NMI 0        /**< exit reason: EXCEPTION NMI */
#define EXIT_REASON_EXTERNAL_INTERRUPT 1   /**< exit reason: EXTERNAL INTERRUPT */
#define EXIT_REASON_TRIPLE_FAULT 2         /**< exit reason: TRIPLE FAULT */
#define EXIT_REASON_PENDING_INTERRUPT 7    /**< interrupt window */
#define EXIT_REASON_NMI_WINDOW 8           /**< exit reason: NMI WINDOW */
#define EXIT_REASON_TASK_SWITCH 9          /**< exit reason: TASK SWITCH */
#define EXIT_REASON_CPUID 10               /**< exit reason: CPUID */
#define EXIT_REASON_HLT 12                 /**< exit reason: HLT */
#define EXIT_REASON_INVD 13                /**< exit reason: INVD */
#define EXIT_REASON_INVLPG 14              /**< exit reason: INVLPG */
#define EXIT_REASON_RDPMC 15               /**< exit reason: RDPMC */
#define EXIT_REASON_RDTSC 16               /**< exit reason: RDTSC */
#define EXIT_REASON_VMCALL 18              /**< exit reason: VMCALL */
#define EXIT_REASON_VMCLEAR 19             /**< exit reason: VMCLEAR */
#define EXIT_REASON_VMLAUNCH 20            /**< exit reason: VMLAUNCH */
#define EXIT_REASON_VMPTRLD 21             /**< exit reason: VMPTRLD */
#define EXIT_REASON_VMPTRST 22             /**< exit reason: VMPTRST */
#define EXIT_REASON_VMREAD 23              /**< exit reason: VMREAD */
#define EXIT_REASON_VMRESUME 24            /**< exit reason: VMRESUME */
#define EXIT_REASON_VMWRITE 25             /**< exit reason: VMWRITE */
#define EXIT_REASON_VMOFF 26               /**< exit reason: VMOFF */
#define EXIT_REASON_VMON 27                /**< exit reason: VMON */
#define EXIT_REASON_CR_ACCESS 28           /**< exit reason: CR ACCESS */
#define EXIT_REASON_DR_ACCESS 29           /**< exit reason: DR ACCESS */
#define EXIT_REASON_IO_INSTRUCTION 30      /**< exit reason: IO INSTRUCTION */
#define EXIT_REASON_MSR_READ 31            /**< exit reason: MSR READ */
#define EXIT_REASON_MSR_WRITE 32           /**< exit reason: MSR WRITE */
#define EXIT_REASON_INVALID_STATE 33       /**< VM entry failed: invalid guest state */
#define EXIT_REASON_MWAIT_INSTRUCTION 36   /**< exit reason: MWAIT INSTRUCTION */
#define EXIT_REASON_MONITOR_INSTRUCTION 39 /**< exit reason: MONITOR INSTRUCTION */
#define EXIT_REASON_PAUSE_INSTRUCTION 40   /**< exit reason: PAUSE INSTRUCTION */
#define EXIT_REASON_MCE_DURING_VMENTRY 41  /**< exit reason: MCE DURING VMENTRY */
#define EXIT_REASON_TPR_BELOW_THRESHOLD 43 /**< exit reason: TPR BELOW THRESHOLD */
#define EXIT_REASON_APIC_ACCESS 44         /**< exit reason: APIC ACCESS */
#define EXIT_REASON_EPT_VIOLATION 48       /**< exit reason: EPT VIOLATION */
#define EXIT_REASON_EPT_MISCONFIG 49       /**< exit reason: EPT MISCONFIG */
#define EXIT_REASON_VMX_TIMER 52           /**< VMX-preemption timer expired */
#define EXIT_REASON_WBINVD 54              /**< exit reason: WBINVD */
#define EXIT_REASON_XSETBV 55              /**< exit reason: XSETBV */
#define EXIT_REASON_INVPCID 58             /**< exit reason: INVPCID */

/** One more than the largest reason above (libsel4vm sizes its handler table so). */
#define VM_EXIT_REASON_NUM 59 /**< exit reason: ON NUM */

#endif /* SEL4VM_ARCH_VMEXIT_REASONS_H */
