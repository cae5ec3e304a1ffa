// SPDX-License-Identifier: BSD-2-Clause
/**
 * @file
 * Ready-made fault callbacks.
 */
#ifndef SEL4VM_GUEST_MEMORY_HELPERS_H
#define SEL4VM_GUEST_MEMORY_HELPERS_H

#include <guestmem/export.h>

#include <sel4vm/guest_memory.h>

#ifdef __cplusplus
extern "C" {
#endif

/**
 * A fault callback that always returns FAULT_ERROR (for RAM that must never
 * fault). Thread safe.
 * @param vm           unused
 * @param vcpu         unused
 * @param fault_addr   unused
 * @param fault_length unused
 * @param cookie       unused
 * @return FAULT_ERROR
 */
GUESTMEM_API memory_fault_result_t default_error_fault_callback(vm_t *vm, vm_vcpu_t *vcpu, uintptr_t fault_addr,
                                                                size_t fault_length, void *cookie);

#ifdef __cplusplus
}
#endif

#endif /* SEL4VM_GUEST_MEMORY_HELPERS_H */
