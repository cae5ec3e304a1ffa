// SPDX-License-Identifier: BSD-2-Clause
/**
 * @file
 * libsel4vm's VM exit codes, the values vm->run.exit_reason takes after
 * vm_run (<sel4vm/guest_vm.h>).
 */
#ifndef SEL4VM_GUEST_VM_EXITS_H
#define SEL4VM_GUEST_VM_EXITS_H

#ifdef __cplusplus
extern "C" {
#endif

/** What ended a VM's run (libsel4vm's values). */
typedef enum vm_exit_codes {
    VM_GUEST_MMIO_EXIT,         /**< a memory access to emulate */
    VM_GUEST_IO_EXIT,           /**< an x86 port access to emulate */
    VM_GUEST_NOTIFICATION_EXIT, /**< a notification for the VMM */
    VM_GUEST_UNKNOWN_EXIT       /**< anything else: vm_run reports a guest that halted or exited so */
} vm_exit_codes_t;

/** vm->run.exit_reason after a vm_run that failed. */
#define VM_GUEST_ERROR_EXIT (-1)

#ifdef __cplusplus
}
#endif

#endif /* SEL4VM_GUEST_VM_EXITS_H */
