// SPDX-License-Identifier: BSD-2-Clause
/**
 * @file
 * The guest memory interface of libsel4vm: reserve ranges of guest-physical
 * memory, back them with frames, and trap accesses to emulated ranges.
 *
 * Every function validates its arguments: on invalid input it logs a line
 * naming the function and the reason, returns NULL or -1, and changes nothing.
 *
 * Thread safety: every function may be called from any thread. Changes to one
 * VM's address space are serialised; fault dispatch on vCPU threads runs
 * concurrently with them. Map iterators must not call these functions for the
 * same VM (the call fails). A fault callback may call them, including
 * vm_free_reserved_memory on its own reservation.
 */
#ifndef SEL4VM_GUEST_MEMORY_H
#define SEL4VM_GUEST_MEMORY_H

#include <guestmem/export.h>

#include <stddef.h>
#include <stdint.h>

#include <sel4vm/guest_vm_types.h>
#include <sel4vm/sel4_compat.h>

#ifdef __cplusplus
extern "C" {
#endif

/** A reserved range of guest-physical memory (opaque handle, validated on use). */
typedef struct vm_memory_reservation vm_memory_reservation_t;

/** What a fault callback decided. The meaning is the same on every backend. */
typedef enum {
    FAULT_HANDLED,   /**< access complete (read data set with set_vcpu_fault_data); the vCPU continues after it */
    FAULT_UNHANDLED, /**< pass the access to the unhandled-fault callback; without one it is an error */
    FAULT_RESTART,   /**< perform the access again (mappings changed); bounded, never an endless loop */
    FAULT_IGNORE,    /**< skip the access: a write is dropped, a read yields 0 */
    FAULT_ERROR      /**< stop the vCPU; the run reports address, length, direction and instruction pointer */
} memory_fault_result_t;

/**
 * Called for a guest access in a reservation that is not backed by a mapped
 * frame with the needed rights. Runs on the faulting vCPU's thread, possibly
 * on several vCPU threads at once; it may reserve, map and free (its own
 * reservation included).
 * @param vm           the VM
 * @param vcpu         the faulting vCPU; the guest_vcpu_fault.h functions describe the access
 * @param fault_addr   guest-physical address of the access
 * @param fault_length its size in bytes (1, 2, 4 or 8)
 * @param cookie       the cookie given with the callback
 * @return what happened to the access (see memory_fault_result_t)
 */
typedef memory_fault_result_t (*memory_fault_callback_fn)(vm_t *vm, vm_vcpu_t *vcpu, uintptr_t fault_addr,
                                                          size_t fault_length, void *cookie);

/** A frame to map: capability, requested rights, guest address and log2 size (12, 21 or 30). */
typedef struct {
    seL4_CPtr cptr;          /**< capability to the frame (from vmm_frame_alloc or vmm_cap_copy) */
    seL4_CapRights_t rights; /**< requested mapping rights, intersected with the capability's */
    uintptr_t vaddr;         /**< guest-physical address: the address the iterator was asked for */
    size_t size_bits;        /**< log2 of the frame size: 12, 21 or 30, matching the frame */
} vm_frame_t;

/**
 * Returns the frame to map at `addr`: called with the reservation's first
 * address, then with the address just past each frame returned. Runs on the
 * thread that maps (or, with deferred mapping, on the faulting vCPU's thread);
 * it must not call this header's functions for the same VM.
 * @param addr   the guest-physical address the frame must start at
 * @param cookie the cookie given with the iterator
 * @return the frame; a seL4_CapNull capability fails the mapping.
 */
typedef vm_frame_t (*memory_map_iterator_fn)(uintptr_t addr, void *cookie);

/**
 * Reserves [addr, addr + size). Any byte size and alignment (emulated devices
 * may share a page); mapping frames later needs the frames' alignment.
 * @param vm             the VM
 * @param addr           first guest-physical address
 * @param size           bytes (non-zero; addr + size must not wrap)
 * @param fault_callback called for accesses not served by a mapped frame (non-NULL)
 * @param cookie         passed to fault_callback
 * @return the reservation, or NULL if vm is invalid or uninitialised, the
 *         callback is NULL, size is 0, addr + size wraps, or the range overlaps
 *         a reservation or an anonymous pool.
 */
GUESTMEM_API vm_memory_reservation_t *vm_reserve_memory_at(vm_t *vm, uintptr_t addr, size_t size,
                                                           memory_fault_callback_fn fault_callback, void *cookie);

/**
 * Reserves size bytes (rounded up to 4 KiB pages) from an anonymous pool, at
 * `align` (a power of two; 0 means page size). Freed space is reused. Never
 * extends past a pool's end.
 * @param vm             the VM
 * @param size           bytes (non-zero), rounded up to 4 KiB
 * @param align          alignment of the base: a power of two; 0 (or less than 4 KiB) means 4 KiB
 * @param fault_callback called for accesses not served by a mapped frame (non-NULL)
 * @param cookie         passed to fault_callback
 * @param addr set to the reservation's base address, only on success (must not be NULL)
 * @return the reservation, or NULL when no pool has room or an argument is invalid.
 */
GUESTMEM_API vm_memory_reservation_t *vm_reserve_anon_memory(vm_t *vm, size_t size, size_t align,
                                                             memory_fault_callback_fn fault_callback, void *cookie,
                                                             uintptr_t *addr);

/**
 * Makes [addr, addr + size) an anonymous pool for vm_reserve_anon_memory.
 * Both must be 4 KiB aligned; the range must not overlap anything.
 * @param vm   the VM
 * @param addr first guest-physical address of the pool
 * @param size bytes in the pool
 * @return 0 on success, -1 on error.
 */
GUESTMEM_API int vm_memory_make_anon(vm_t *vm, uintptr_t addr, size_t size);

/**
 * Frees a reservation (regular or anonymous): unmaps every frame of any size
 * (the caller's capabilities are not deleted), drops a pending deferred
 * mapping, and returns anonymous space to its pool. Handlers of the
 * reservation running on other threads finish before this returns. Called
 * from a fault callback, it fails instead of waiting forever when a callback
 * it would wait for is itself waiting to free a reservation this callback is
 * in (the handle stays valid and nothing changes).
 * @param vm          the VM the reservation belongs to
 * @param reservation the reservation; invalid afterwards (unless -1 is returned)
 * @return 0 on success; -1 for NULL, unknown, already-freed or another VM's
 *         handles, or a free that would deadlock.
 */
GUESTMEM_API int vm_free_reserved_memory(vm_t *vm, vm_memory_reservation_t *reservation);

/**
 * Maps frames returned by `map_iterator` over the whole reservation. Each
 * frame needs a live capability, size_bits 12/21/30 matching the frame,
 * vaddr equal to the address asked for and aligned to its size, and must lie
 * inside the reservation. Rights are the frame's rights intersected with its
 * capability's: without read the frame stays unmapped (accesses fault); read
 * without write maps it read-only (writes fault into the callback).
 * All or nothing; mapping an already-mapped reservation fails. With deferred
 * mapping on, the iterator and cookie are stored and run on the first fault.
 * @param vm           the VM the reservation belongs to
 * @param reservation  an unmapped reservation
 * @param map_iterator returns each frame (non-NULL)
 * @param cookie       passed to map_iterator
 * @return 0 on success, -1 on error.
 */
GUESTMEM_API int vm_map_reservation(vm_t *vm, vm_memory_reservation_t *reservation, memory_map_iterator_fn map_iterator,
                                    void *cookie);

/**
 * Maps frames[i] at base + (i << frame_size_bits) with all rights. The frames
 * must cover the reservation exactly. The array is copied.
 * @param vm              the VM the reservation belongs to
 * @param reservation     an unmapped reservation
 * @param frames          num_frames capabilities (the caller keeps them)
 * @param num_frames      frames in the array
 * @param frame_size_bits log2 of every frame's size: 12, 21 or 30
 * @return 0 on success, -1 on error.
 */
GUESTMEM_API int vm_map_reservation_frames(vm_t *vm, vm_memory_reservation_t *reservation, seL4_CPtr *frames,
                                           size_t num_frames, size_t frame_size_bits);

/**
 * Writes the reservation's base address and size. On an invalid handle or a
 * NULL output pointer it logs an error and writes nothing.
 * @param reservation the reservation
 * @param addr        receives its first guest-physical address
 * @param size        receives its size in bytes
 */
GUESTMEM_API void vm_get_reservation_memory_region(vm_memory_reservation_t *reservation, uintptr_t *addr, size_t *size);

/**
 * Initialises the VM's memory interface. Call once after vm_create, before
 * any other function here.
 * @param vm the VM
 * @return 0, or -1 on a second call (state unchanged) or an invalid vm.
 */
GUESTMEM_API int vm_memory_init(vm_t *vm);

#ifdef __cplusplus
}
#endif

#endif /* SEL4VM_GUEST_MEMORY_H */
