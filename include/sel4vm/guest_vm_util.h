// SPDX-License-Identifier: BSD-2-Clause
/**
 * @file
 * Finding a VM's vCPUs, as libsel4vm's guest_vm_util.h does.
 *
 * libsel4vm defines these as inline functions that read the structs; here
 * they are library functions with the same signatures, so that the handles
 * are validated. vm_get_vcpu_tcb, vm_get_vcpu, vm_get_vspace and
 * vm_get_vmm_vspace are left out: they return seL4 kernel objects.
 */
#ifndef SEL4VM_GUEST_VM_UTIL_H
#define SEL4VM_GUEST_VM_UTIL_H

#include <guestmem/export.h>

#include <sel4vm/guest_vm.h>

#ifdef __cplusplus
extern "C" {
#endif

/**
 * The vCPU assigned to host CPU `target_cpu` (vm_assign_vcpu_target). Thread safe.
 * @param vm         the VM
 * @param target_cpu the CPU
 * @return the vCPU; NULL if none is, or (logged) for a NULL or destroyed vm.
 */
GUESTMEM_API vm_vcpu_t *vm_vcpu_for_target_cpu(vm_t *vm, int target_cpu);
/**
 * The first vCPU (by vcpu_id) that no host CPU is assigned to. Thread safe.
 * @param vm the VM
 * @return the vCPU; NULL if every vCPU is assigned, or (logged) for a NULL or destroyed vm.
 */
GUESTMEM_API vm_vcpu_t *vm_find_free_unassigned_vcpu(vm_t *vm);
/**
 * Whether vcpu_start started the vCPU. Thread safe.
 * @param vcpu the vCPU
 * @return vcpu->vcpu_online; false (logged) for a NULL or destroyed vCPU.
 */
GUESTMEM_API bool is_vcpu_online(vm_vcpu_t *vcpu);

#ifdef __cplusplus
}
#endif

#endif /* SEL4VM_GUEST_VM_UTIL_H */
