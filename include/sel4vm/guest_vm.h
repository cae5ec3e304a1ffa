// SPDX-License-Identifier: BSD-2-Clause
/**
 * @file
 * The VM and its vCPUs as libsel4vm's callers see them: the public `struct vm`
 * and `struct vm_vcpu`, the unhandled-fault and notification callbacks, and
 * running a VM (vm_run, vcpu_start).
 *
 * The structs carry the members portable libsel4vm code reads, under
 * libsel4vm's names and types. Members that name seL4 kernel objects (vka
 * objects, vspaces, cspaces, endpoints) have no meaning on Linux and are left
 * out; docs/porting-from-libsel4vm.md lists them. The library allocates both
 * structs (vm_create, vm_create_vcpu) and keeps their members true; callers
 * read them and may set only `io_ops`. Handles are validated on every call: a
 * forged or destroyed vm_t or vm_vcpu_t is refused with a log line, never
 * dereferenced by the library.
 *
 * Like libsel4vm's guest_vm.h, this header gives its includers
 * <sel4vm/guest_memory.h>, the C library headers libsel4vm code leans on
 * (assert.h, stdbool.h, stddef.h, stdint.h, stdio.h, stdlib.h, string.h), and
 * the seL4 libraries' headers libsel4vm's includes, where the build has them.
 */
#ifndef SEL4VM_GUEST_VM_H
#define SEL4VM_GUEST_VM_H

#include <guestmem/export.h>

#include <assert.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sel4vm/arch/guest_vm_arch.h>
#include <sel4vm/guest_memory.h>
#include <sel4vm/guest_vm_types.h>
#include <sel4vm/sel4_compat.h>

/*
 * libsel4vm's guest_vm.h includes the seL4 libraries' headers, and code
 * written for it leans on what they define (ZF_LOG*, ps_calloc, ...). Where a
 * build has them (the real libraries, or the stubs of guestmem's porting
 * check), they are included too; guestmem itself needs none of them.
 */
#if defined(__has_include)
#if __has_include(<sel4/sel4.h>)
#include <sel4/sel4.h>
#endif
#if __has_include(<vka/vka.h>)
#include <vka/vka.h>
#endif
#if __has_include(<simple/simple.h>)
#include <simple/simple.h>
#endif
#if __has_include(<vspace/vspace.h>)
#include <vspace/vspace.h>
#endif
#if __has_include(<platsupport/io.h>)
#include <platsupport/io.h>
#endif
#endif

#ifdef __cplusplus
extern "C" {
#endif

/** How many vCPUs a VM can have: the length of vm_t::vcpus. */
#define GUESTMEM_MAX_VCPUS 64

/**
 * Called for guest accesses that no reservation holds, and for accesses a
 * reservation's callback passed on with FAULT_UNHANDLED (libsel4vm). Same
 * arguments and results as memory_fault_callback_fn; FAULT_UNHANDLED from it
 * is an error.
 */
typedef memory_fault_result_t (*unhandled_mem_fault_callback_fn)(vm_t *vm, vm_vcpu_t *vcpu, uintptr_t paddr, size_t len,
                                                                 void *cookie);

/**
 * Called by vm_run, on vm_run's thread, for each notification vm_notify
 * delivered to the VM (libsel4vm calls it for notifications arriving at the
 * VMM's endpoint).
 * @param vm     the VM
 * @param badge  the badge given to vm_notify
 * @param tag    a message info with the label given to vm_notify, no words
 * @param cookie the cookie given with the callback
 * @return 0 to go on; anything else ends vm_run with -1 and
 *         run.exit_reason VM_GUEST_ERROR_EXIT.
 */
typedef int (*notification_callback_fn)(vm_t *vm, seL4_Word badge, seL4_MessageInfo_t tag, void *cookie);

/** A piece of guest RAM: [start, start + size), allocated or free. */
struct vm_ram_region {
    uintptr_t start; /**< first guest-physical address */
    size_t size;     /**< bytes */
    int allocated;   /**< 1 once vm_ram_allocate or vm_ram_mark_allocated claimed it, else 0 */
};

/** The memory part of a VM (libsel4vm's members that have a meaning on Linux). */
struct vm_mem {
    /**
     * Guest RAM as a list sorted by address: every range registered with the
     * vm_ram_register* calls, split into allocated and free pieces. Kept true
     * by the <sel4vm/guest_ram.h> calls; the array is replaced by each of
     * them, so read it on a thread that does not race with them.
     */
    int num_ram_regions;
    struct vm_ram_region *ram_regions; /**< num_ram_regions entries (NULL when there are none) */
    /** The callback set with vm_register_unhandled_mem_fault_callback (NULL before). */
    unhandled_mem_fault_callback_fn unhandled_mem_fault_handler;
    void *unhandled_mem_fault_cookie; /**< its cookie */
};

/** A vCPU's thread parameters. */
struct vm_tcb {
    /**
     * The priority given to vm_create_vcpu (0 to 255, seL4's range). Recorded
     * only: on Linux a vCPU runs on the thread that runs it (vm_run makes one
     * per started vCPU) at that thread's ordinary scheduling priority.
     */
    int priority;
};

/** A virtual CPU (libsel4vm's members that have a meaning on Linux). */
struct vm_vcpu {
    struct vm *vm;        /**< the VM it belongs to */
    struct vm_tcb tcb;    /**< thread parameters */
    unsigned int vcpu_id; /**< its index in vm->vcpus: 0 for the first vCPU created (BOOT_VCPU) */
    int target_cpu;       /**< set by vm_assign_vcpu_target; -1 until then */
    bool vcpu_online;     /**< true once vcpu_start started it */
};

/** The run part of a VM. */
struct vm_run {
    /**
     * Why the last vm_run returned: VM_GUEST_ERROR_EXIT (-1) if a vCPU
     * stopped in error or a notification callback failed, else
     * VM_GUEST_UNKNOWN_EXIT (<sel4vm/guest_vm_exits.h>) for vCPUs that
     * halted, exited or were stopped. 0 before the first vm_run.
     */
    int exit_reason;
    notification_callback_fn notification_callback; /**< set with vm_register_notification_callback */
    void *notification_callback_cookie;             /**< its cookie */
};

/**
 * A virtual machine (libsel4vm's members that have a meaning on Linux).
 * Allocated by vm_create and freed by vm_destroy.
 */
struct vm {
    unsigned int num_vcpus;                    /**< vCPUs created so far */
    struct vm_vcpu *vcpus[GUESTMEM_MAX_VCPUS]; /**< vcpus[i] has vcpu_id i; NULL from num_vcpus on */
    struct vm_mem mem;                         /**< memory */
    struct vm_run run;                         /**< running */
    /**
     * libplatsupport's I/O operations, for device models that allocate or map
     * through them. The library never uses it; the caller sets it (NULL
     * after vm_create) and keeps what it points to alive.
     */
    ps_io_ops_t *io_ops;
    seL4_Word entry;     /**< the entry point of the last image vm_load_guest_image loaded (0 before) */
    char *vm_name;       /**< the VM's name: "vm<vm_id>" until vm_set_name; owned by the library */
    unsigned int vm_id;  /**< a number unique among the VMs of the process, from 0 */
    bool vm_initialised; /**< true once vm_memory_init succeeded */
};

/**
 * Runs the VM: every vCPU started with vcpu_start runs on a thread of its
 * own, while the calling thread calls the notification callback for each
 * vm_notify. Returns when every started vCPU has stopped (the guest halted
 * or exited, vm_stop was called, or it stopped in error) and the
 * notifications delivered until then are handled, or when a notification
 * callback fails (the vCPUs are stopped first; later notifications stay
 * queued for the next vm_run). Each vCPU's run
 * result is then available from vcpu_get_run_result. libsel4vm's vm_run
 * likewise handles the VM's exits and notifications until one fails.
 * @param vm the VM (vm_memory_init done, at least one vCPU started)
 * @return 0 if every vCPU halted, exited or was stopped by vm_stop
 *         (run.exit_reason VM_GUEST_UNKNOWN_EXIT); -1 (logged) if one
 *         stopped in error or a
 *         notification callback failed (run.exit_reason VM_GUEST_ERROR_EXIT),
 *         or for a NULL or destroyed VM, no started vCPU, or a vm_run already
 *         running on the VM.
 */
#if defined(__cplusplus) && defined(__GNUC__)
/* libsel4vm names both the function and the struct vm_run: fine in C, a -Wshadow warning in C++. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wshadow"
#endif
GUESTMEM_API int vm_run(vm_t *vm);
#if defined(__cplusplus) && defined(__GNUC__)
#pragma GCC diagnostic pop
#endif
/**
 * Marks the vCPU online: the next vm_run runs it. Boot it first
 * (vcpu_boot or vm_set_thread_context and friends). libsel4vm's vcpu_start
 * resumes the vCPU's thread; here the thread is vm_run's.
 * @param vcpu the vCPU
 * @return 0; -1 (logged) for a NULL or destroyed vCPU or one already online.
 */
GUESTMEM_API int vcpu_start(vm_vcpu_t *vcpu);
/**
 * Sets the callback for accesses that no reservation holds and for accesses
 * passed on with FAULT_UNHANDLED (also stored in vm->mem). Replaces an
 * earlier one. May be called while vCPUs run. Thread safe.
 * @param vm            the VM
 * @param fault_handler the callback (non-NULL)
 * @param cookie        passed to the callback
 * @return 0, or -1 (logged) for a NULL or destroyed vm or a NULL callback.
 */
GUESTMEM_API int vm_register_unhandled_mem_fault_callback(vm_t *vm, unhandled_mem_fault_callback_fn fault_handler,
                                                          void *cookie);
/**
 * Sets the callback vm_run calls for each vm_notify (also stored in vm->run).
 * Replaces an earlier one. Thread safe.
 * @param vm                    the VM
 * @param notification_callback the callback (non-NULL)
 * @param cookie                passed to the callback
 * @return 0, or -1 (logged) for a NULL or destroyed vm or a NULL callback.
 */
GUESTMEM_API int vm_register_notification_callback(vm_t *vm, notification_callback_fn notification_callback,
                                                   void *cookie);

#ifdef __cplusplus
}
#endif

#endif /* SEL4VM_GUEST_VM_H */
