// SPDX-License-Identifier: BSD-2-Clause
/**
 * @file
 * The access behind a memory fault, as seen from a fault callback.
 *
 * Valid only inside a fault callback, for the vCPU passed to it, on the
 * callback's thread (thread safety: that thread only). Outside one (or with a
 * NULL vCPU) each function logs an error naming itself and returns 0 / -1 /
 * false, changing nothing.
 *
 * Conventions (as libsel4vm): the fault data is the value as the guest
 * register holds it, its least significant byte being the byte at the fault
 * address. The data mask is the access-size mask shifted left by
 * (addr & 3) * 8; an 8-byte access has an all-ones mask.
 */
#ifndef SEL4VM_GUEST_VCPU_FAULT_H
#define SEL4VM_GUEST_VCPU_FAULT_H

#include <guestmem/export.h>

#include <stdbool.h>
#include <stddef.h>

#include <sel4vm/guest_vm.h>
#include <sel4vm/sel4_compat.h>

#ifdef __cplusplus
extern "C" {
#endif

/**
 * Guest-physical address of the access.
 * @param vcpu the vCPU passed to the fault callback
 * @return the address (0 outside a fault).
 */
GUESTMEM_API seL4_Word get_vcpu_fault_address(vm_vcpu_t *vcpu);
/**
 * Guest instruction pointer of the access.
 * @param vcpu the vCPU passed to the fault callback
 * @return the instruction pointer (0 outside a fault).
 */
GUESTMEM_API seL4_Word get_vcpu_fault_ip(vm_vcpu_t *vcpu);
/**
 * For a write, the value written; for a read, the value set so far (0 before).
 * @param vcpu the vCPU passed to the fault callback
 * @return the data (0 outside a fault).
 */
GUESTMEM_API seL4_Word get_vcpu_fault_data(vm_vcpu_t *vcpu);
/**
 * The access-size mask shifted to the accessed lane (all ones for 8 bytes).
 * @param vcpu the vCPU passed to the fault callback
 * @return the mask (0 outside a fault).
 */
GUESTMEM_API seL4_Word get_vcpu_fault_data_mask(vm_vcpu_t *vcpu);
/**
 * Size of the access in bytes: 1, 2, 4 or 8.
 * @param vcpu the vCPU passed to the fault callback
 * @return the size (0 outside a fault).
 */
GUESTMEM_API size_t get_vcpu_fault_size(vm_vcpu_t *vcpu);
/**
 * True for a read, false for a write.
 * @param vcpu the vCPU passed to the fault callback
 * @return true for a read (false outside a fault).
 */
GUESTMEM_API bool is_vcpu_read_fault(vm_vcpu_t *vcpu);
/**
 * Sets the value a read returns; only the access's size is kept.
 * @param vcpu the vCPU passed to the fault callback
 * @param data the value the read returns
 * @return 0, or -1 outside a fault.
 */
GUESTMEM_API int set_vcpu_fault_data(vm_vcpu_t *vcpu, seL4_Word data);
/**
 * For a write: `data` (a 32-bit device register) with the written value merged
 * in at the accessed lane: *reg = emulate_vcpu_fault(vcpu, *reg).
 * For a read: (data & ~(mask >> s)) | ((fault data & mask) >> s), s = (addr & 3) * 8.
 * @param vcpu the vCPU passed to the fault callback
 * @param data the register value to merge into
 * @return the merged value (0 outside a fault).
 */
GUESTMEM_API seL4_Word emulate_vcpu_fault(vm_vcpu_t *vcpu, seL4_Word data);
/**
 * Notes that the access is complete. The library advances the vCPU exactly once either way.
 * @param vcpu the vCPU passed to the fault callback
 */
GUESTMEM_API void advance_vcpu_fault(vm_vcpu_t *vcpu);
/**
 * Notes that the access should be retried; return FAULT_RESTART to retry it.
 * @param vcpu the vCPU passed to the fault callback
 */
GUESTMEM_API void restart_vcpu_fault(vm_vcpu_t *vcpu);

#ifdef __cplusplus
}
#endif

#endif /* SEL4VM_GUEST_VCPU_FAULT_H */
