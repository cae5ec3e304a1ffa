/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Porting-check stub of libsel4vspace's <vspace/vspace.h>, an address space
 * manager. Declarations only: a hosted VMM reaches guest memory through
 * guestmem (vm_ram_touch, vmm_frame_vaddr), so code calling these compiles
 * and does not link.
 */
#ifndef GUESTMEM_STUB_VSPACE_VSPACE_H
#define GUESTMEM_STUB_VSPACE_VSPACE_H

#include <assert.h>
#include <stddef.h>

#include <vka/object.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The manager: an implementation's state (its operations are not modelled). */
typedef struct vspace {
    void *data;
} vspace_t;

/* A reserved range of virtual addresses. */
typedef struct reservation {
    void *res;
} reservation_t;

reservation_t vspace_reserve_range(vspace_t *vspace, size_t bytes, seL4_CapRights_t rights, int cacheable,
                                   void **vaddr);
reservation_t vspace_reserve_range_aligned(vspace_t *vspace, size_t bytes, size_t size_bits, seL4_CapRights_t rights,
                                           int cacheable, void **vaddr);
reservation_t vspace_reserve_range_at(vspace_t *vspace, void *vaddr, size_t bytes, seL4_CapRights_t rights,
                                      int cacheable);
void vspace_free_reservation(vspace_t *vspace, reservation_t reservation);
void *vspace_new_pages(vspace_t *vspace, seL4_CapRights_t rights, size_t num_pages, size_t size_bits);
void *vspace_map_pages(vspace_t *vspace, seL4_CPtr caps[], uintptr_t cookies[], seL4_CapRights_t rights,
                       size_t num_pages, size_t size_bits, int cacheable);
int vspace_map_pages_at_vaddr(vspace_t *vspace, seL4_CPtr caps[], uintptr_t cookies[], void *vaddr, size_t num_pages,
                              size_t size_bits, reservation_t reservation);
void vspace_unmap_pages(vspace_t *vspace, void *vaddr, size_t num_pages, size_t size_bits, vka_t *vka);
void *vspace_share_mem(vspace_t *from, vspace_t *to, void *start, int num_pages, size_t size_bits,
                       seL4_CapRights_t rights, int cacheable);
seL4_CPtr vspace_get_cap(vspace_t *vspace, void *vaddr);
uintptr_t vspace_get_cookie(vspace_t *vspace, void *vaddr);
void vspace_tear_down(vspace_t *vspace, vka_t *vka);

#define VSPACE_FREE ((vka_t *)1)
#define VSPACE_PRESERVE ((vka_t *)0)

#ifdef __cplusplus
}
#endif

#endif /* GUESTMEM_STUB_VSPACE_VSPACE_H */
