/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Porting-check stub of <sel4/sel4.h>, the seL4 system call and object
 * interface.
 *
 * guestmem's <sel4vm/sel4_compat.h> gives the seL4 types its interface uses
 * sizes, ...); this header adds the other names VMM code meets, and defines
 * none of that header's again. Kernel invocations are declared only: code
 * calling them compiles, and does not link, as there is no kernel to call.
 */
#ifndef GUESTMEM_STUB_SEL4_SEL4_H
#define GUESTMEM_STUB_SEL4_SEL4_H

#include <autoconf.h>
#include <inttypes.h>
#include <stdint.h>

#include <sel4vm/sel4_compat.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Capability types: all capability pointers. */
typedef seL4_CPtr seL4_CNode;
typedef seL4_CPtr seL4_TCB;
typedef seL4_CPtr seL4_Untyped;
typedef seL4_CPtr seL4_IRQHandler;
typedef seL4_CPtr seL4_IRQControl;
typedef seL4_CPtr seL4_Notification;
typedef seL4_CPtr seL4_Endpoint;
typedef seL4_CPtr seL4_SchedContext;
typedef seL4_CPtr seL4_DomainSet;
typedef seL4_Word seL4_NodeId;
typedef seL4_Word seL4_PAddr;
typedef seL4_Word seL4_Domain;
typedef uint8_t seL4_Uint8;
typedef uint16_t seL4_Uint16;
typedef uint32_t seL4_Uint32;
typedef uint64_t seL4_Uint64;
typedef int seL4_Bool;

#define seL4_WordBits 64
#define seL4_WordSizeBits 3
#define seL4_SlotBits 5
#define seL4_BadgeBits 64
#define seL4_MsgMaxLength 120

/* printf conversions for a seL4_Word (guestmem's is 64 bits wide). */
#define SEL4_PRId_word PRId64
#define SEL4_PRIi_word PRIi64
#define SEL4_PRIu_word PRIu64
#define SEL4_PRIx_word PRIx64
#define SEL4_PRI_word SEL4_PRIu_word
#define SEL4_PRId64 PRId64
#define SEL4_PRIi64 PRIi64
#define SEL4_PRIu64 PRIu64
#define SEL4_PRIx64 PRIx64

/* Kernel error codes: seL4's values. */
typedef enum {
    seL4_NoError = 0,
    seL4_InvalidArgument,
    seL4_InvalidCapability,
    seL4_IllegalOperation,
    seL4_RangeError,
    seL4_AlignmentError,
    seL4_FailedLookup,
    seL4_TruncatedMessage,
    seL4_DeleteFirst,
    seL4_RevokeFirst,
    seL4_NotEnoughMemory,
    seL4_NumErrors
} seL4_Error;

/* Object types (the architecture-independent ones). */
typedef enum {
    seL4_UntypedObject,
    seL4_TCBObject,
    seL4_EndpointObject,
    seL4_NotificationObject,
    seL4_CapTableObject,
    seL4_NonArchObjectTypeCount
} seL4_ObjectType;

/* The initial thread's capabilities that VMM code names. */
enum {
    seL4_CapInitThreadTCB = 1,
    seL4_CapInitThreadCNode = 2,
    seL4_CapInitThreadVSpace = 3,
    seL4_CapIRQControl = 4,
    seL4_CapASIDControl = 5,
    seL4_CapInitThreadASIDPool = 6,
    seL4_CapIOPortControl = 7,
    seL4_CapIOSpace = 8,
    seL4_CapBootInfoFrame = 9,
    seL4_CapInitThreadIPCBuffer = 10
};
#define seL4_CapInitThreadPD seL4_CapInitThreadVSpace

/* seL4_UserContext (AArch64) and seL4_VCPUContext (x86-64 guests) come from
 * guestmem's <sel4vm/sel4_compat.h>, included above. */

seL4_Error seL4_TCB_ReadRegisters(seL4_TCB service, seL4_Bool suspend_source, seL4_Uint8 arch_flags, seL4_Word count,
                                  seL4_UserContext *regs);
seL4_Error seL4_TCB_WriteRegisters(seL4_TCB service, seL4_Bool resume_target, seL4_Uint8 arch_flags, seL4_Word count,
                                   seL4_UserContext *regs);
seL4_Error seL4_TCB_BindNotification(seL4_TCB service, seL4_Notification notification);
seL4_Error seL4_TCB_Resume(seL4_TCB service);
seL4_Error seL4_TCB_Suspend(seL4_TCB service);
seL4_Error seL4_CNode_Copy(seL4_CNode service, seL4_Word dest_index, seL4_Uint8 dest_depth, seL4_CNode src_root,
                           seL4_Word src_index, seL4_Uint8 src_depth, seL4_CapRights_t rights);
seL4_Error seL4_CNode_Mint(seL4_CNode service, seL4_Word dest_index, seL4_Uint8 dest_depth, seL4_CNode src_root,
                           seL4_Word src_index, seL4_Uint8 src_depth, seL4_CapRights_t rights, seL4_Word badge);
seL4_Error seL4_CNode_Delete(seL4_CNode service, seL4_Word index, seL4_Uint8 depth);
seL4_Error seL4_CNode_Revoke(seL4_CNode service, seL4_Word index, seL4_Uint8 depth);
seL4_Error seL4_IRQHandler_Ack(seL4_IRQHandler service);
seL4_Error seL4_IRQHandler_SetNotification(seL4_IRQHandler service, seL4_CPtr notification);
seL4_Error seL4_IRQHandler_Clear(seL4_IRQHandler service);
void seL4_Signal(seL4_CPtr dest);
void seL4_Wait(seL4_CPtr src, seL4_Word *sender);
seL4_Word seL4_GetMR(int i);
void seL4_SetMR(int i, seL4_Word mr);
void seL4_Yield(void);
void seL4_DebugHalt(void);
void seL4_DebugPutChar(char c);

#if defined(CONFIG_ARCH_ARM) || (!defined(CONFIG_ARCH_X86) && (defined(__aarch64__) || defined(__arm__)))
typedef seL4_CPtr seL4_ARM_Page;
typedef seL4_CPtr seL4_ARM_PageTable;
typedef seL4_CPtr seL4_ARM_PageDirectory;
typedef seL4_CPtr seL4_ARM_VSpace;
typedef seL4_CPtr seL4_ARM_ASIDControl;
typedef seL4_CPtr seL4_ARM_ASIDPool;
typedef seL4_CPtr seL4_ARM_VCPU;
typedef seL4_CPtr seL4_ARM_IOSpace;
typedef seL4_CPtr seL4_ARM_IOPageTable;
typedef seL4_CPtr seL4_ARM_SMC;
typedef seL4_CPtr seL4_ARM_SIDControl;
typedef seL4_CPtr seL4_ARM_SID;
typedef seL4_CPtr seL4_ARM_CBControl;
typedef seL4_CPtr seL4_ARM_CB;

typedef enum {
    seL4_ARM_PageCacheable = 0x01,
    seL4_ARM_ParityEnabled = 0x02,
    seL4_ARM_Default_VMAttributes = 0x03,
    seL4_ARM_ExecuteNever = 0x04,
    seL4_ARM_Uncached_VMAttributes = 0
} seL4_ARM_VMAttributes;

/* ARM object types, numbered after the architecture-independent ones. */
enum {
    seL4_ARM_HugePageObject = seL4_NonArchObjectTypeCount,
    seL4_ARM_VSpaceObject,
    seL4_ARM_SmallPageObject,
    seL4_ARM_LargePageObject,
    seL4_ARM_PageTableObject,
    seL4_ARM_VCPUObject
};
#define seL4_ARM_SectionObject seL4_ARM_LargePageObject
#define seL4_FrameObject seL4_ARM_SmallPageObject

/* The arguments and results of an SMC call: x0 to x7. */
typedef struct seL4_ARM_SMCContext_ {
    seL4_Word x0, x1, x2, x3, x4, x5, x6, x7;
} seL4_ARM_SMCContext;

seL4_Error seL4_ARM_SMC_Call(seL4_ARM_SMC service, seL4_ARM_SMCContext *smc_args, seL4_ARM_SMCContext *smc_response);
seL4_Error seL4_ARM_Page_Map(seL4_ARM_Page service, seL4_CPtr vspace, seL4_Word vaddr, seL4_CapRights_t rights,
                             seL4_ARM_VMAttributes attr);
seL4_Error seL4_ARM_Page_Unmap(seL4_ARM_Page service);
seL4_Error seL4_ARM_Page_CleanInvalidate_Data(seL4_ARM_Page service, seL4_Word start_offset, seL4_Word end_offset);
seL4_Error seL4_ARM_PageTable_Map(seL4_ARM_PageTable service, seL4_CPtr vspace, seL4_Word vaddr,
                                  seL4_ARM_VMAttributes attr);
seL4_Error seL4_ARM_VCPU_AckVPPI(seL4_ARM_VCPU service, seL4_Word irq);
seL4_Error seL4_ARM_VCPU_InjectIRQ(seL4_ARM_VCPU service, seL4_Uint16 virq, seL4_Uint8 priority, seL4_Uint8 group,
                                   seL4_Uint8 index);
seL4_Error seL4_ARM_VCPU_WriteRegs(seL4_ARM_VCPU service, seL4_Word field, seL4_Word value);
seL4_Error seL4_ARM_SID_BindCB(seL4_ARM_SID service, seL4_CPtr cb);
seL4_Error seL4_ARM_CB_AssignVspace(seL4_ARM_CB service, seL4_CPtr vspace);
#else
typedef seL4_CPtr seL4_X86_Page;
typedef seL4_CPtr seL4_X86_PageTable;
typedef seL4_CPtr seL4_X86_PageDirectory;
typedef seL4_CPtr seL4_X86_ASIDControl;
typedef seL4_CPtr seL4_X86_ASIDPool;
typedef seL4_CPtr seL4_X86_IOPort;
typedef seL4_CPtr seL4_X86_IOPortControl;
typedef seL4_CPtr seL4_X86_IOSpace;
typedef seL4_CPtr seL4_X86_VCPU;
typedef seL4_CPtr seL4_X86_EPTPML4;
typedef seL4_X86_IOPort seL4_IA32_IOPort;
typedef seL4_X86_IOSpace seL4_IA32_IOSpace;

typedef enum {
    seL4_X86_WriteBack = 0,
    seL4_X86_WriteThrough = 1,
    seL4_X86_CacheDisabled = 2,
    seL4_X86_Uncacheable = 3,
    seL4_X86_WriteCombining = 4,
    seL4_X86_Default_VMAttributes = 0
} seL4_X86_VMAttributes;

/* x86 object types, numbered after the architecture-independent ones. */
enum {
    seL4_X86_PDPTObject = seL4_NonArchObjectTypeCount,
    seL4_X64_PML4Object,
    seL4_X64_HugePageObject,
    seL4_X86_4K,
    seL4_X86_LargePageObject,
    seL4_X86_PageTableObject,
    seL4_X86_PageDirectoryObject
};
#define seL4_FrameObject seL4_X86_4K


seL4_Error seL4_X86_Page_Map(seL4_X86_Page service, seL4_CPtr vspace, seL4_Word vaddr, seL4_CapRights_t rights,
                             seL4_X86_VMAttributes attr);
seL4_Error seL4_X86_Page_Unmap(seL4_X86_Page service);
#endif

#ifdef __cplusplus
}
#endif

#endif /* GUESTMEM_STUB_SEL4_SEL4_H */
