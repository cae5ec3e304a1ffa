// SPDX-License-Identifier: BSD-2-Clause
/**
 * @file
 * seL4 types for hosts without seL4.
 *
 * libsel4vm code expects these from <sel4/sel4.h>. On a host without seL4 this
 * header provides the subset libsel4vm's interface uses, with seL4's
 * names, values and bit layout. Compiles as C99 and as C++.
 */
#ifndef SEL4VM_SEL4_COMPAT_H
#define SEL4VM_SEL4_COMPAT_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/** A machine word, as seL4 defines it. */
typedef uint64_t seL4_Word;
/** A capability pointer: names a capability in the VMM's capability space. */
typedef seL4_Word seL4_CPtr;

/** The null capability: never names a frame. */
#define seL4_CapNull ((seL4_CPtr)0)

/** log2 of the size of a 4 KiB page frame. */
#define seL4_PageBits 12
/** log2 of the size of a 2 MiB large page frame. */
#define seL4_LargePageBits 21
/** log2 of the size of a 1 GiB huge page frame. */
#define seL4_HugePageBits 30

/**
 * Capability rights. Bit layout as in seL4: bit 0 write, bit 1 read,
 * bit 2 grant, bit 3 grant-reply.
 */
typedef struct seL4_CapRights {
    seL4_Word words[1]; /**< the rights bits (seL4's bitfield layout); use the functions below */
} seL4_CapRights_t;

/**
 * Makes a set of rights. Each argument is 0 or 1 (only bit 0 counts).
 * @param capAllowGrantReply the grant-reply right (no meaning for frames)
 * @param capAllowGrant      the grant right (no meaning for frames)
 * @param capAllowRead       the read right: without it a frame is not mapped
 * @param capAllowWrite      the write right: without it a mapped frame is read-only
 * @return the rights. Pure function; thread safe.
 */
static inline seL4_CapRights_t seL4_CapRights_new(seL4_Word capAllowGrantReply, seL4_Word capAllowGrant,
                                                  seL4_Word capAllowRead, seL4_Word capAllowWrite) {
    seL4_CapRights_t rights;
    rights.words[0] = ((capAllowGrantReply & 1u) << 3) | ((capAllowGrant & 1u) << 2) | ((capAllowRead & 1u) << 1) |
                      (capAllowWrite & 1u);
    return rights;
}

/** @param rights a set of rights @return 1 if it has the grant-reply right, else 0 */
static inline seL4_Word seL4_CapRights_get_capAllowGrantReply(seL4_CapRights_t rights) {
    return (rights.words[0] >> 3) & 1u;
}
/** @param rights a set of rights @return 1 if it has the grant right, else 0 */
static inline seL4_Word seL4_CapRights_get_capAllowGrant(seL4_CapRights_t rights) {
    return (rights.words[0] >> 2) & 1u;
}
/** @param rights a set of rights @return 1 if it has the read right, else 0 */
static inline seL4_Word seL4_CapRights_get_capAllowRead(seL4_CapRights_t rights) { return (rights.words[0] >> 1) & 1u; }
/** @param rights a set of rights @return 1 if it has the write right, else 0 */
static inline seL4_Word seL4_CapRights_get_capAllowWrite(seL4_CapRights_t rights) { return rights.words[0] & 1u; }

/** Every right. */
#define seL4_AllRights seL4_CapRights_new(1, 1, 1, 1)
/** Read only: a frame mapped with these rights is read-only to the guest. */
#define seL4_CanRead seL4_CapRights_new(0, 0, 1, 0)
/** Write only (without read a frame is not mapped). */
#define seL4_CanWrite seL4_CapRights_new(0, 0, 0, 1)
/** Grant only. */
#define seL4_CanGrant seL4_CapRights_new(0, 1, 0, 0)
/** Grant-reply only. */
#define seL4_CanGrantReply seL4_CapRights_new(1, 0, 0, 0)
/** Read and write. */
#define seL4_ReadWrite seL4_CapRights_new(0, 0, 1, 1)
/** No rights. */
#define seL4_NoRights seL4_CapRights_new(0, 0, 0, 0)

/**
 * A message's description. Bit layout as in seL4: length in bits 0-6,
 * extraCaps in bits 7-8, capsUnwrapped in bits 9-11, label from bit 12.
 */
typedef struct seL4_MessageInfo {
    seL4_Word words[1]; /**< the fields (seL4's bitfield layout); use the functions below */
} seL4_MessageInfo_t;

/**
 * Makes a message info. Pure function; thread safe.
 * @param label         the label (the low 52 bits are kept)
 * @param capsUnwrapped capabilities unwrapped (low 3 bits kept)
 * @param extraCaps     extra capabilities (low 2 bits kept)
 * @param length        message words (low 7 bits kept)
 * @return the message info.
 */
static inline seL4_MessageInfo_t seL4_MessageInfo_new(seL4_Word label, seL4_Word capsUnwrapped, seL4_Word extraCaps,
                                                      seL4_Word length) {
    seL4_MessageInfo_t info;
    info.words[0] = ((label & 0xfffffffffffffull) << 12) | ((capsUnwrapped & 0x7u) << 9) | ((extraCaps & 0x3u) << 7) |
                    (length & 0x7fu);
    return info;
}
/** @param info a message info @return its label */
static inline seL4_Word seL4_MessageInfo_get_label(seL4_MessageInfo_t info) { return info.words[0] >> 12; }
/** @param info a message info @return its length in words */
static inline seL4_Word seL4_MessageInfo_get_length(seL4_MessageInfo_t info) { return info.words[0] & 0x7fu; }

/**
 * An AArch64 thread's user-visible registers, as seL4_TCB_ReadRegisters gives
 * them: seL4's AArch64 seL4_UserContext, members in seL4's order (the frame
 * registers pc, sp, spsr, x0 to x8, x16 to x18, x29, x30; then x9 to x15 and
 * x19 to x28; then the EL0 thread ID registers). Every member is one
 * seL4_Word (8 bytes, no padding), so member i is word i of the struct: the
 * register index <sel4vm/arch/guest_arm_context.h> takes. This is the
 * AArch64 layout whatever the host is: libsel4vm's ARM interface is the only
 * one of its interfaces that takes a seL4_UserContext.
 */
typedef struct seL4_UserContext_ {
    seL4_Word pc;          /**< program counter */
    seL4_Word sp;          /**< stack pointer (SP_EL1 for an EL1h guest) */
    seL4_Word spsr;        /**< PSTATE, in the SPSR layout (mode, DAIF, NZCV, ...) */
    seL4_Word x0;          /**< x0 */
    seL4_Word x1;          /**< x1 */
    seL4_Word x2;          /**< x2 */
    seL4_Word x3;          /**< x3 */
    seL4_Word x4;          /**< x4 */
    seL4_Word x5;          /**< x5 */
    seL4_Word x6;          /**< x6 */
    seL4_Word x7;          /**< x7 */
    seL4_Word x8;          /**< x8 */
    seL4_Word x16;         /**< x16 */
    seL4_Word x17;         /**< x17 */
    seL4_Word x18;         /**< x18 */
    seL4_Word x29;         /**< x29, the frame pointer */
    seL4_Word x30;         /**< x30, the link register */
    seL4_Word x9;          /**< x9 */
    seL4_Word x10;         /**< x10 */
    seL4_Word x11;         /**< x11 */
    seL4_Word x12;         /**< x12 */
    seL4_Word x13;         /**< x13 */
    seL4_Word x14;         /**< x14 */
    seL4_Word x15;         /**< x15 */
    seL4_Word x19;         /**< x19 */
    seL4_Word x20;         /**< x20 */
    seL4_Word x21;         /**< x21 */
    seL4_Word x22;         /**< x22 */
    seL4_Word x23;         /**< x23 */
    seL4_Word x24;         /**< x24 */
    seL4_Word x25;         /**< x25 */
    seL4_Word x26;         /**< x26 */
    seL4_Word x27;         /**< x27 */
    seL4_Word x28;         /**< x28 */
    seL4_Word tpidr_el0;   /**< EL0 read-write thread ID register */
    seL4_Word tpidrro_el0; /**< EL0 read-only thread ID register */
} seL4_UserContext;

/**
 * The general registers of an x86 VT-x guest that seL4 keeps outside the
 * VMCS: seL4's seL4_VCPUContext (eax to ebp), with r8 to r15 after them as
 * in a kernel built for 64-bit guests (CONFIG_X86_64_VTX_64BIT_GUESTS, the
 * order libsel4vm's vcpu_context_reg_t gives). The e-names hold the full
 * 64-bit registers (eax is rax). rsp, rip and rflags are VMCS fields
 * (<sel4vm/arch/guest_x86_context.h>: vm_get_vmcs_field). Every member is
 * one seL4_Word, so member i is word i: the vcpu_context_reg_t value.
 */
typedef struct seL4_VCPUContext_ {
    seL4_Word eax; /**< rax */
    seL4_Word ebx; /**< rbx */
    seL4_Word ecx; /**< rcx */
    seL4_Word edx; /**< rdx */
    seL4_Word esi; /**< rsi */
    seL4_Word edi; /**< rdi */
    seL4_Word ebp; /**< rbp */
    seL4_Word r8;  /**< r8 */
    seL4_Word r9;  /**< r9 */
    seL4_Word r10; /**< r10 */
    seL4_Word r11; /**< r11 */
    seL4_Word r12; /**< r12 */
    seL4_Word r13; /**< r13 */
    seL4_Word r14; /**< r14 */
    seL4_Word r15; /**< r15 */
} seL4_VCPUContext;

/**
 * AArch64 EL1 system registers of a vCPU, by seL4's numbers (seL4_VCPUReg of
 * current libsel4, aarch64 sel4_arch constants.h, where VMPIDR_EL2 always has
 * a number; seL4 releases before that numbered it only in multicore builds,
 * shifting the registers after it down by one). The values are the `reg`
 * argument of vm_get_arm_vcpu_reg and vm_set_arm_vcpu_reg
 * (<sel4vm/arch/guest_arm_context.h>), which say which of them guestmem holds.
 */
typedef enum {
    seL4_VCPUReg_SCTLR = 0,        /**< SCTLR_EL1 */
    seL4_VCPUReg_TTBR0 = 1,        /**< TTBR0_EL1 */
    seL4_VCPUReg_TTBR1 = 2,        /**< TTBR1_EL1 */
    seL4_VCPUReg_TCR = 3,          /**< TCR_EL1 */
    seL4_VCPUReg_MAIR = 4,         /**< MAIR_EL1 */
    seL4_VCPUReg_AMAIR = 5,        /**< AMAIR_EL1 */
    seL4_VCPUReg_CIDR = 6,         /**< CONTEXTIDR_EL1 */
    seL4_VCPUReg_ACTLR = 7,        /**< ACTLR_EL1 */
    seL4_VCPUReg_CPACR = 8,        /**< CPACR_EL1 */
    seL4_VCPUReg_AFSR0 = 9,        /**< AFSR0_EL1 */
    seL4_VCPUReg_AFSR1 = 10,       /**< AFSR1_EL1 */
    seL4_VCPUReg_ESR = 11,         /**< ESR_EL1 */
    seL4_VCPUReg_FAR = 12,         /**< FAR_EL1 */
    seL4_VCPUReg_ISR = 13,         /**< ISR_EL1 */
    seL4_VCPUReg_VBAR = 14,        /**< VBAR_EL1 */
    seL4_VCPUReg_TPIDR_EL1 = 15,   /**< TPIDR_EL1 */
    seL4_VCPUReg_VMPIDR_EL2 = 16,  /**< VMPIDR_EL2 (the MPIDR the guest reads) */
    seL4_VCPUReg_SP_EL1 = 17,      /**< SP_EL1 */
    seL4_VCPUReg_ELR_EL1 = 18,     /**< ELR_EL1 */
    seL4_VCPUReg_SPSR_EL1 = 19,    /**< SPSR_EL1 */
    seL4_VCPUReg_CNTV_CTL = 20,    /**< CNTV_CTL_EL0 */
    seL4_VCPUReg_CNTV_CVAL = 21,   /**< CNTV_CVAL_EL0 */
    seL4_VCPUReg_CNTVOFF = 22,     /**< CNTVOFF_EL2 */
    seL4_VCPUReg_CNTKCTL_EL1 = 23, /**< CNTKCTL_EL1 */
    seL4_VCPUReg_Num = 24          /**< how many there are */
} seL4_VCPUReg;

#ifdef __cplusplus
}
#endif

#endif /* SEL4VM_SEL4_COMPAT_H */
