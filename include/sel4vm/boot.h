// SPDX-License-Identifier: BSD-2-Clause
/**
 * @file
 * Creating vCPUs, as libsel4vm's boot.h declares it.
 *
 * libsel4vm's vm_init is left out: it takes seL4's vka, simple and vspace.
 * A VM comes from vm_create (<sel4vm/guestmem.h>) and its memory interface
 * from vm_memory_init (<sel4vm/guest_memory.h>).
 */
#ifndef SEL4VM_BOOT_H
#define SEL4VM_BOOT_H

#include <guestmem/export.h>

#include <sel4vm/guest_vm.h>

#ifdef __cplusplus
extern "C" {
#endif

/** The vcpu_id (and index in vm->vcpus) of the first vCPU created: the one a guest boots on. */
#define BOOT_VCPU 0

/**
 * Creates a vCPU of the VM; it lives as long as the VM. Its vcpu_id is its
 * index in vm->vcpus, and vm->num_vcpus counts it once this returns. It is
 * offline (vcpu_start) with target_cpu -1. Thread safe.
 * @param vm       the VM
 * @param priority seL4's thread priority, 0 to 255: recorded in
 *                 vcpu->tcb.priority, not applied (a vCPU runs at the
 *                 ordinary priority of the thread that runs it)
 * @return the vCPU; NULL (logged) for a NULL or destroyed vm, a priority out
 *         of range, a VM that has GUESTMEM_MAX_VCPUS vCPUs already, or a
 *         backend error.
 */
GUESTMEM_API vm_vcpu_t *vm_create_vcpu(vm_t *vm, int priority);
/**
 * Assigns the vCPU to a host CPU: vm_run pins the thread it runs the vCPU on
 * to that CPU (libsel4vm assigns the vCPU to a physical core). Thread safe.
 * @param vcpu       the vCPU (not running)
 * @param target_cpu a host CPU number, from 0 to the number of CPUs configured minus 1
 * @return 0; -1 (logged, nothing changed) for a NULL or destroyed vCPU, a CPU
 *         number out of range, or a CPU another vCPU of the VM is assigned to.
 */
GUESTMEM_API int vm_assign_vcpu_target(vm_vcpu_t *vcpu, int target_cpu);

#ifdef __cplusplus
}
#endif

#endif /* SEL4VM_BOOT_H */
