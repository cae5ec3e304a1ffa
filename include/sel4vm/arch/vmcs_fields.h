// SPDX-License-Identifier: BSD-2-Clause
/**
 * @file
 * VMCS field encodings (the operand of VMREAD and VMWRITE) and segment
 * access-rights bits, under libsel4vm's names. The values are Intel's (Intel
 * SDM vol. 3, appendix B "Field Encoding in VMCS", and 24.4.1 for the access
 * rights). vm_get_vmcs_field and vm_set_vmcs_field
 * (<sel4vm/arch/guest_x86_context.h>) take them; which fields guestmem
 * holds is said there. Plain macros: C99 and C++.
 */
#ifndef SEL4VM_ARCH_VMCS_FIELDS_H
#define SEL4VM_ARCH_VMCS_FIELDS_H

/* Guest-state fields, 16 bits: segment selectors. */
#define VMX_GUEST_ES_SELECTOR 0x00000800   /**< guest state: ES selector */
#define VMX_GUEST_CS_SELECTOR 0x00000802   /**< guest state: CS selector */
#define VMX_GUEST_SS_SELECTOR 0x00000804   /**< guest state: SS selector */
#define VMX_GUEST_DS_SELECTOR 0x00000806   /**< guest state: DS selector */
#define VMX_GUEST_FS_SELECTOR 0x00000808   /**< guest state: FS selector */
#define VMX_GUEST_GS_SELECTOR 0x0000080A   /**< guest state: GS selector */
#define VMX_GUEST_LDTR_SELECTOR 0x0000080C /**< guest state: LDTR selector */
#define VMX_GUEST_TR_SELECTOR 0x0000080E   /**< guest state: TR selector */

/* Guest-state fields, 64 bits. */
#define VMX_GUEST_DEBUGCTRL 0x00002802        /**< guest state: debugctrl */
#define VMX_GUEST_PAT 0x00002804              /**< guest state: PAT */
#define VMX_GUEST_EFER 0x00002806             /**< guest state: EFER */
#define VMX_GUEST_PERF_GLOBAL_CTRL 0x00002808 /**< guest state: perf global ctrl */

/* Guest-state fields, 32 bits: limits, access rights, interruptibility. */
#define VMX_GUEST_ES_LIMIT 0x00004800                   /**< guest state: ES limit */
#define VMX_GUEST_CS_LIMIT 0x00004802                   /**< guest state: CS limit */
#define VMX_GUEST_SS_LIMIT 0x00004804                   /**< guest state: SS limit */
#define VMX_GUEST_DS_LIMIT 0x00004806                   /**< guest state: DS limit */
#define VMX_GUEST_FS_LIMIT 0x00004808                   /**< guest state: FS limit */
#define VMX_GUEST_GS_LIMIT 0x0000480A                   /**< guest state: GS limit */
#define VMX_GUEST_LDTR_LIMIT 0x0000480C                 /**< guest state: LDTR limit */
#define VMX_GUEST_TR_LIMIT 0x0000480E                   /**< guest state: TR limit */
#define VMX_GUEST_GDTR_LIMIT 0x00004810                 /**< guest state: GDTR limit */
#define VMX_GUEST_IDTR_LIMIT 0x00004812                 /**< guest state: IDTR limit */
#define VMX_GUEST_ES_ACCESS_RIGHTS 0x00004814           /**< guest state: ES access rights */
#define VMX_GUEST_CS_ACCESS_RIGHTS 0x00004816           /**< guest state: CS access rights */
#define VMX_GUEST_SS_ACCESS_RIGHTS 0x00004818           /**< guest state: SS access rights */
#define VMX_GUEST_DS_ACCESS_RIGHTS 0x0000481A           /**< guest state: DS access rights */
#define VMX_GUEST_FS_ACCESS_RIGHTS 0x0000481C           /**< guest state: FS access rights */
#define VMX_GUEST_GS_ACCESS_RIGHTS 0x0000481E           /**< guest state: GS access rights */
#define VMX_GUEST_LDTR_ACCESS_RIGHTS 0x00004820         /**< guest state: LDTR access rights */
#define VMX_GUEST_TR_ACCESS_RIGHTS 0x00004822           /**< guest state: TR access rights */
#define VMX_GUEST_INTERRUPTABILITY 0x00004824           /**< guest state: interruptability */
#define VMX_GUEST_ACTIVITY 0x00004826                   /**< guest state: activity */
#define VMX_GUEST_SMBASE 0x00004828                     /**< guest state: SMBASE */
#define VMX_GUEST_SYSENTER_CS 0x0000482A                /**< guest state: sysenter CS */
#define VMX_GUEST_VMX_PREEMPTION_TIMER_VALUE 0x0000482E /**< guest state: VMX preemption timer value */

/* Guest-state fields, natural width. */
#define VMX_GUEST_CR0 0x00006800                      /**< guest state: CR0 */
#define VMX_GUEST_CR3 0x00006802                      /**< guest state: CR3 */
#define VMX_GUEST_CR4 0x00006804                      /**< guest state: CR4 */
#define VMX_GUEST_ES_BASE 0x00006806                  /**< guest state: ES base */
#define VMX_GUEST_CS_BASE 0x00006808                  /**< guest state: CS base */
#define VMX_GUEST_SS_BASE 0x0000680A                  /**< guest state: SS base */
#define VMX_GUEST_DS_BASE 0x0000680C                  /**< guest state: DS base */
#define VMX_GUEST_FS_BASE 0x0000680E                  /**< guest state: FS base */
#define VMX_GUEST_GS_BASE 0x00006810                  /**< guest state: GS base */
#define VMX_GUEST_LDTR_BASE 0x00006812                /**< guest state: LDTR base */
#define VMX_GUEST_TR_BASE 0x00006814                  /**< guest state: TR base */
#define VMX_GUEST_GDTR_BASE 0x00006816                /**< guest state: GDTR base */
#define VMX_GUEST_IDTR_BASE 0x00006818                /**< guest state: IDTR base */
#define VMX_GUEST_DR7 0x0000681A                      /**< guest state: DR7 */
#define VMX_GUEST_RSP 0x0000681C                      /**< guest state: RSP */
#define VMX_GUEST_RIP 0x0000681E                      /**< guest state: RIP */
#define VMX_GUEST_RFLAGS 0x00006820                   /**< guest state: RFLAGS */
#define VMX_GUEST_PENDING_DEBUG_EXCEPTIONS 0x00006822 /**< guest state: pending debug exceptions */
#define VMX_GUEST_SYSENTER_ESP 0x00006824             /**< guest state: sysenter esp */
#define VMX_GUEST_SYSENTER_EIP 0x00006826             /**< guest state: sysenter eip */

/* Read-only data fields (VM-exit information). */
#define VMX_DATA_INSTRUCTION_ERROR 0x00004400       /**< exit information (read-only): instruction error */
#define VMX_DATA_EXIT_REASON 0x00004402             /**< exit information (read-only): EXIT reason */
#define VMX_DATA_EXIT_INTERRUPT_INFO 0x00004404     /**< exit information (read-only): EXIT interrupt info */
#define VMX_DATA_EXIT_INTERRUPT_ERROR 0x00004406    /**< exit information (read-only): EXIT interrupt error */
#define VMX_DATA_IDT_VECTOR_INFO 0x00004408         /**< exit information (read-only): IDT vector info */
#define VMX_DATA_IDT_VECTOR_ERROR 0x0000440A        /**< exit information (read-only): IDT vector error */
#define VMX_DATA_EXIT_INSTRUCTION_LENGTH 0x0000440C /**< exit information (read-only): EXIT instruction length */
#define VMX_DATA_EXIT_INSTRUCTION_INFO 0x0000440E   /**< exit information (read-only): EXIT instruction info */
#define VMX_DATA_GUEST_PHYSICAL 0x00002400          /**< exit information (read-only): guest physical */
#define VMX_DATA_EXIT_QUALIFICATION 0x00006400      /**< exit information (read-only): EXIT qualification */
#define VMX_DATA_IO_RCX 0x00006402                  /**< exit information (read-only): IO RCX */
#define VMX_DATA_IO_RSI 0x00006404                  /**< exit information (read-only): IO RSI */
#define VMX_DATA_IO_RDI 0x00006406                  /**< exit information (read-only): IO RDI */
#define VMX_DATA_IO_RIP 0x00006408                  /**< exit information (read-only): IO RIP */
#define VMX_DATA_GUEST_LINEAR_ADDRESS 0x0000640A    /**< exit information (read-only): guest linear address */

/* Control fields. */
#define VMX_CONTROL_PIN_EXECUTION_CONTROLS 0x00004000       /**< control: pin execution controls */
#define VMX_CONTROL_PRIMARY_PROCESSOR_CONTROLS 0x00004002   /**< control: primary processor controls */
#define VMX_CONTROL_EXCEPTION_BITMAP 0x00004004             /**< control: exception bitmap */
#define VMX_CONTROL_EXIT_CONTROLS 0x0000400C                /**< control: EXIT controls */
#define VMX_CONTROL_ENTRY_INTERRUPTION_INFO 0x00004016      /**< control: entry interruption info */
#define VMX_CONTROL_ENTRY_EXCEPTION_ERROR_CODE 0x00004018   /**< control: entry exception error code */
#define VMX_CONTROL_SECONDARY_PROCESSOR_CONTROLS 0x0000401E /**< control: secondary processor controls */
#define VMX_CONTROL_CR0_MASK 0x00006000                     /**< control: CR0 mask */
#define VMX_CONTROL_CR4_MASK 0x00006002                     /**< control: CR4 mask */
#define VMX_CONTROL_CR0_READ_SHADOW 0x00006004              /**< control: CR0 read shadow */
#define VMX_CONTROL_CR4_READ_SHADOW 0x00006006              /**< control: CR4 read shadow */

/* Bits of the primary processor-based controls. */
#define VMX_CONTROL_PPC_HLT_EXITING (1ul << 7)        /**< HLT exits */
#define VMX_CONTROL_PPC_CR3_LOAD_EXITING (1ul << 15)  /**< MOV to CR3 exits */
#define VMX_CONTROL_PPC_CR3_STORE_EXITING (1ul << 16) /**< MOV from CR3 exits */

/* Segment access rights in the VMCS layout. */
#define ACCESS_RIGHTS_S (1ul << 4)         /**< code or data segment (not system) */
#define ACCESS_RIGHTS_P (1ul << 7)         /**< present */
#define ACCESS_RIGHTS_AVL (1ul << 12)      /**< available to software */
#define ACCESS_RIGHTS_L (1ul << 13)        /**< 64-bit code */
#define ACCESS_RIGHTS_DB (1ul << 14)       /**< default operation size / big */
#define ACCESS_RIGHTS_G (1ul << 15)        /**< 4 KiB granularity */
#define ACCESS_RIGHTS_UNUSABLE (1ul << 16) /**< the segment is unusable */

/* Segment types (bits 0-3 of the access rights) for system segments. */
#define ACCESS_RIGHTS_TYPE_BUSY_TSS 0xB    /**< 64-bit (or 32-bit) busy TSS */
#define ACCESS_RIGHTS_TYPE_BUSY_16_TSS 0x3 /**< 16-bit busy TSS */
#define ACCESS_RIGHTS_TYPE_LDT 0x2         /**< LDT */

/** An access-rights bit by its short name: AR(P) is ACCESS_RIGHTS_P. */
#define AR(x) (ACCESS_RIGHTS_##x)
/** A segment type by its short name: AR_T(LDT) is ACCESS_RIGHTS_TYPE_LDT. */
#define AR_T(x) (ACCESS_RIGHTS_TYPE_##x)

/** libsel4vm's task register rights: present busy TSS. */
#define DEFAULT_TR_ACCESS_RIGHTS (AR(P) | AR_T(BUSY_TSS))
/** libsel4vm's default segment rights (G, L, P, S and type 3). */
#define DEFAULT_ACCESS_RIGHTS (AR(G) | AR(L) | AR(P) | AR(S) | AR_T(BUSY_16_TSS))

#endif /* SEL4VM_ARCH_VMCS_FIELDS_H */
