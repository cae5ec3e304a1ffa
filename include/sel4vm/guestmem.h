/*
 * guestmem's platform part: creating VMs and vCPUs, the VMM's frames and
 * capabilities, and the hypervisor-free backend. These names are guestmem's
 * own; libsel4vm gets the equivalent from seL4 and its VMM setup code.
 */
#ifndef SEL4VM_GUESTMEM_H
#define SEL4VM_GUESTMEM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <sel4vm/guest_memory.h>
#include <sel4vm/guest_vm.h>
#include <sel4vm/sel4_compat.h>

#ifdef __cplusplus
extern "C" {
#endif

/** Which hypervisor a VM runs on. */
typedef enum {
    VM_BACKEND_SIM = 0, /**< no hypervisor: accesses are performed with vm_sim_access */
    VM_BACKEND_KVM = 1  /**< a real VM on /dev/kvm */
} vm_backend_t;

/** Creates a VM. @return NULL, with a logged reason, on failure (e.g. no /dev/kvm). */
vm_t *vm_create(vm_backend_t backend);
/** Destroys a VM: frees every reservation, mapping and vCPU. No vCPU may be running. */
void vm_destroy(vm_t *vm);
/** Creates a vCPU of the VM. @return NULL on failure. */
vm_vcpu_t *vm_create_vcpu(vm_t *vm);
/**
 * Sets the callback for accesses outside every reservation, crossing a
 * reservation's end, or passed on with FAULT_UNHANDLED. Replaces an earlier one.
 * @return 0, or -1 if vm or cb is NULL.
 */
int vm_register_unhandled_mem_fault_callback(vm_t *vm, memory_fault_callback_fn cb, void *cookie);
/** libsel4vm's DEFER_MEMORY_MAP at run time: later vm_map_reservation* calls map on first fault. */
void vm_set_deferred_mapping(vm_t *vm, bool deferred);

/* Frames: the VMM's capability space, shared by every VM of the process. */

/** Allocates a zeroed frame of 2^size_bits bytes (12, 21 or 30) with all rights. @return seL4_CapNull on failure. */
seL4_CPtr vmm_frame_alloc(size_t size_bits);
/** A new capability to the same frame with rights intersected with cap's. @return seL4_CapNull on failure. */
seL4_CPtr vmm_cap_copy(seL4_CPtr cap, seL4_CapRights_t rights);
/** Deletes a capability; the frame lives on while mapped or named by another. @return 0, or -1. */
int vmm_cap_delete(seL4_CPtr cap);
/** The VMM's own view of the frame. @return NULL for a dead capability. */
void *vmm_frame_vaddr(seL4_CPtr cap);

/**
 * The hypervisor-free backend: performs one guest-physical access of len
 * bytes (1, 2, 4 or 8) as vCPU `vcpu` would. Mapped frames are read or
 * written directly (honouring rights); everything else goes through fault
 * dispatch. For a write *data holds the value; for a read it receives it.
 * @return 0 when the access completed; -1 when it ended in an error (logged).
 */
int vm_sim_access(vm_vcpu_t *vcpu, uintptr_t addr, size_t len, bool is_write, uint64_t *data);

/** Log levels passed to a log handler. */
typedef enum { GUESTMEM_LOG_ERROR = 0, GUESTMEM_LOG_WARNING = 1, GUESTMEM_LOG_INFO = 2, GUESTMEM_LOG_DEBUG = 3 } guestmem_log_level_t;
/** Receives log lines; may be called from any thread. */
typedef void (*guestmem_log_fn)(guestmem_log_level_t level, const char *message, void *cookie);
/** Sends log lines to `fn` (NULL restores the default: errors and warnings to stderr). */
void guestmem_set_log_handler(guestmem_log_fn fn, void *cookie);

#ifdef __cplusplus
}
#endif

#endif /* SEL4VM_GUESTMEM_H */
