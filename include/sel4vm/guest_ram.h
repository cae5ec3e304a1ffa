// SPDX-License-Identifier: BSD-2-Clause
/**
 * @file
 * The guest RAM interface of libsel4vm: register RAM, hand it out, and copy
 * to and from it.
 *
 * RAM is a reservation mapped with frames. vm_ram_register and
 * vm_ram_register_at allocate the frames from the process capability space
 * (the one vmm_frame_alloc uses): the largest of 4 KiB, 2 MiB and 1 GiB that
 * fit each address, owned by the VM and deleted with it.
 * vm_ram_register_at_custom_iterator maps the caller's frames instead.
 * Registered RAM starts free; vm_ram_allocate / vm_ram_mark_allocated /
 * vm_ram_free keep track of which RAM the VMM has handed out. That is
 * bookkeeping only: mappings and contents never change. Free RAM is kept
 * merged, across registrations too.
 *
 * Differences from libsel4vm (see docs/porting-from-libsel4vm.md):
 * - vm_guest_ram_read_callback / vm_guest_ram_write_callback copy to and from
 *   buf + offset, so a range spanning several frames is copied whole;
 * - vm_ram_touch walks the VMM's own view of the frames (no temporary
 *   mappings), across frames of any size and across reservations, checks the
 *   whole range before the first callback, and calls back once per piece of
 *   host-contiguous memory, which may be larger than a page;
 * - vm_ram_free frees; a double free is refused;
 * - vm_ram_allocate / vm_ram_register return 0 on failure, which is also a
 *   valid address when RAM (or an anonymous pool) starts at guest address 0:
 *   the _checked extensions below report failure unambiguously.
 *
 * Every function validates its arguments: on invalid input it logs a line
 * naming the function and the reason, returns 0 or -1 (or nothing, for the
 * void functions), and changes nothing. Before vm_memory_init every function
 * fails.
 *
 * Thread safety: every function may be called from any thread, also while
 * vCPUs run. Memory copied by vm_ram_touch is shared with running guests: it
 * may change during the copy (see guestmem/guest_memory.hpp). A custom map
 * iterator must not call the address-space functions of
 * <sel4vm/guest_memory.h> for the same VM (they fail); a touch callback may
 * (the piece it is given stays valid until it returns).
 */
#ifndef SEL4VM_GUEST_RAM_H
#define SEL4VM_GUEST_RAM_H

#include <guestmem/export.h>

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <sel4vm/guest_memory.h>
#include <sel4vm/guest_vm.h>

#ifdef __cplusplus
extern "C" {
#endif

/**
 * Called by vm_ram_touch for each piece of the touched range.
 * @param vm         the VM
 * @param guest_addr guest-physical address of the piece
 * @param vmm_vaddr  the VMM's view of the piece (shared with the guest)
 * @param size       bytes in the piece (any size: one or more frames, or part of one)
 * @param offset     guest_addr minus the address given to vm_ram_touch
 * @param cookie     the cookie given to vm_ram_touch
 * @return 0 to go on; anything else stops vm_ram_touch, which then returns -1.
 */
typedef int (*ram_touch_callback_fn)(vm_t *vm, uintptr_t guest_addr, void *vmm_vaddr, size_t size, size_t offset,
                                     void *cookie);

/**
 * Touch callback that copies guest memory into a buffer: copies `size` bytes
 * from `vaddr` to (char *)buf + offset. Use with vm_ram_touch, buf as cookie.
 * @param vm         unused (may be NULL)
 * @param guest_addr unused
 * @param vaddr      the VMM's view of guest memory (non-NULL)
 * @param size       bytes to copy
 * @param offset     where in buf the bytes go
 * @param buf        the destination buffer (non-NULL), at least offset + size bytes
 * @return 0, or -1 if vaddr or buf is NULL.
 */
GUESTMEM_API int vm_guest_ram_read_callback(vm_t *vm, uintptr_t guest_addr, void *vaddr, size_t size, size_t offset,
                                            void *buf);

/**
 * Touch callback that copies a buffer into guest memory: copies `size` bytes
 * from (const char *)buf + offset to `vaddr`. Use with vm_ram_touch, buf as cookie.
 * Parameters and return as vm_guest_ram_read_callback.
 */
GUESTMEM_API int vm_guest_ram_write_callback(vm_t *vm, uintptr_t guest_addr, void *vaddr, size_t size, size_t offset,
                                             void *buf);

/**
 * Calls touch_callback for every piece of [addr, addr + size), in address
 * order, with the VMM's view of the memory. Every byte must be mapped (with at
 * least the read right: the VMM may write frames the guest may only read,
 * which is how a ROM gets its contents); the whole range is checked before the
 * first call, and pending deferred mappings in it are completed. The pieces
 * stay valid until the callback returns, even if another thread frees them.
 * Size 0 calls nothing and succeeds.
 * @param vm             the VM
 * @param addr           first guest-physical address
 * @param size           bytes to touch
 * @param touch_callback called for each piece, on this thread (non-NULL)
 * @param cookie         passed to touch_callback
 * @return 0; -1 if vm is invalid or uninitialised, touch_callback is NULL,
 *         the range wraps, a byte is not mapped, or a callback returned non-zero.
 */
GUESTMEM_API int vm_ram_touch(vm_t *vm, uintptr_t addr, size_t size, ram_touch_callback_fn touch_callback,
                              void *cookie);

/**
 * Finds the largest free region of RAM (the lowest one on ties). Adjacent free
 * RAM counts as one region, even across registrations.
 * @param vm   the VM
 * @param addr set to the region's base, only on success
 * @param size set to the region's size, only on success
 * @return 0; -1 if vm is invalid, addr or size is NULL, or no RAM is free.
 */
GUESTMEM_API int vm_ram_find_largest_free_region(vm_t *vm, uintptr_t *addr, size_t *size);

/**
 * Registers `bytes` (rounded up to 4 KiB) of RAM at a page-aligned address
 * taken from the VM's anonymous pools (vm_memory_make_anon), like libsel4vm.
 * @param vm    the VM
 * @param bytes size of the RAM (non-zero)
 * @return the RAM's base address; 0 on failure (invalid vm, bytes 0, no pool
 *         with room, no frames). If an anonymous pool starts at guest address
 *         0, 0 may also be a success: use vm_ram_register_checked.
 */
GUESTMEM_API uintptr_t vm_ram_register(vm_t *vm, size_t bytes);

/**
 * Registers [start, start + bytes) as RAM backed by new frames.
 * @param vm      the VM
 * @param start   4 KiB aligned
 * @param bytes   a non-zero multiple of 4 KiB
 * @param untyped accepted for source compatibility and ignored: on seL4 it
 *                asks for frames at the matching physical address; a hosted
 *                VMM's frames have none, so it always gets ordinary frames.
 * @return 0; -1 if vm is invalid, the range is empty, unaligned or wraps, it
 *         overlaps a reservation or an anonymous pool, or frames run out
 *         (nothing is left reserved or allocated then).
 */
GUESTMEM_API int vm_ram_register_at(vm_t *vm, uintptr_t start, size_t bytes, bool untyped);

/**
 * Registers [start, start + bytes) as RAM backed by the frames map_iterator
 * returns (vm_map_reservation's rules; the caller keeps its capabilities).
 * With deferred mapping on, the iterator and cookie run on the first access.
 * @param vm           the VM
 * @param start        first guest-physical address of the RAM
 * @param bytes        size of the RAM (non-zero)
 * @param map_iterator returns each frame (non-NULL; vm_map_reservation's rules)
 * @param cookie       passed to map_iterator
 * @return 0; -1 on invalid arguments, overlap, or a frame the iterator
 *         returned that cannot be mapped (nothing is left reserved then).
 */
GUESTMEM_API int vm_ram_register_at_custom_iterator(vm_t *vm, uintptr_t start, size_t bytes,
                                                    memory_map_iterator_fn map_iterator, void *cookie);

/**
 * Marks [start, start + bytes) allocated (e.g. where a kernel image was
 * loaded). Every byte must be registered RAM; bytes already allocated stay
 * so. On invalid input (invalid vm, bytes 0, wrapping, a byte that is not RAM)
 * it logs an error and changes nothing.
 * @param vm    the VM
 * @param start first guest-physical address
 * @param bytes size of the range
 */
GUESTMEM_API void vm_ram_mark_allocated(vm_t *vm, uintptr_t start, size_t bytes);

/**
 * Allocates `bytes` of free RAM, first fit: the lowest free region that holds
 * them.
 * @param vm    the VM
 * @param bytes size of the allocation (non-zero)
 * @return the base of the allocation; 0 on failure (logged). When RAM is
 *         registered at guest address 0 and still free there, 0 may also be
 *         a success: use vm_ram_allocate_checked.
 */
GUESTMEM_API uintptr_t vm_ram_allocate(vm_t *vm, size_t bytes);

/**
 * Frees [start, start + bytes): it becomes free RAM again, merged with free
 * neighbours. The range must be registered RAM and wholly allocated (any part
 * of an allocation may be freed). On invalid input (invalid vm, bytes 0,
 * wrapping, a byte that is not RAM or already free) it logs an error and
 * changes nothing.
 * @param vm    the VM
 * @param start first guest-physical address
 * @param bytes size of the range
 */
GUESTMEM_API void vm_ram_free(vm_t *vm, uintptr_t start, size_t bytes);

/* guestmem extensions: the same operations with unambiguous results. */

/**
 * vm_ram_allocate with an alignment and an unambiguous result (guestmem extension).
 * @param vm    the VM
 * @param bytes size of the allocation (non-zero)
 * @param align a power of two, or 0 for no alignment
 * @param addr  set to the allocation's base, only on success (non-NULL)
 * @return 0 on success; -1 on failure (logged), *addr untouched.
 */
GUESTMEM_API int vm_ram_allocate_checked(vm_t *vm, size_t bytes, size_t align, uintptr_t *addr);

/**
 * vm_ram_register with an unambiguous result (guestmem extension).
 * @param vm    the VM
 * @param bytes size of the RAM (non-zero), rounded up to 4 KiB
 * @param addr set to the RAM's base address, only on success (non-NULL)
 * @return 0 on success; -1 on failure (logged), *addr untouched.
 */
GUESTMEM_API int vm_ram_register_checked(vm_t *vm, size_t bytes, uintptr_t *addr);

#ifdef __cplusplus
}
#endif

#endif /* SEL4VM_GUEST_RAM_H */
