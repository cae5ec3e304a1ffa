// SPDX-License-Identifier: BSD-2-Clause
/**
 * @file
 * The VM and vCPU handle types of libsel4vm.
 */
#ifndef SEL4VM_GUEST_VM_H
#define SEL4VM_GUEST_VM_H

#include <sel4vm/sel4_compat.h>

#ifdef __cplusplus
extern "C" {
#endif

/** A virtual machine (opaque). Create with vm_create, destroy with vm_destroy. */
typedef struct vm vm_t;
/** A virtual CPU of a vm_t (opaque). Create with vm_create_vcpu; lives as long as its VM. */
typedef struct vm_vcpu vm_vcpu_t;

#ifdef __cplusplus
}
#endif

#endif /* SEL4VM_GUEST_VM_H */
