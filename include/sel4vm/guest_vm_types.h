// SPDX-License-Identifier: BSD-2-Clause
/**
 * @file
 * The names of libsel4vm's VM types, for headers that only pass them around
 * (<sel4vm/guest_memory.h>, ...). <sel4vm/guest_vm.h> defines the structs.
 */
#ifndef SEL4VM_GUEST_VM_TYPES_H
#define SEL4VM_GUEST_VM_TYPES_H

#ifdef __cplusplus
extern "C" {
#endif

/** A virtual machine. Create with vm_create, destroy with vm_destroy. */
typedef struct vm vm_t;
/** A virtual CPU of a vm_t. Create with vm_create_vcpu; lives as long as its VM. */
typedef struct vm_vcpu vm_vcpu_t;
/** The memory part of a vm_t. */
typedef struct vm_mem vm_mem_t;
/** One piece of guest RAM, allocated or free. */
typedef struct vm_ram_region vm_ram_region_t;
/** The run part of a vm_t. */
typedef struct vm_run vm_run_t;
/**
 * libplatsupport's I/O operations. Only ever used through a pointer the
 * caller supplies; the same typedef as libplatsupport's <platsupport/io.h>,
 * so code that includes both compiles (C11 and C++ allow a typedef to be
 * repeated).
 */
typedef struct ps_io_ops ps_io_ops_t;

#ifdef __cplusplus
}
#endif

#endif /* SEL4VM_GUEST_VM_TYPES_H */
