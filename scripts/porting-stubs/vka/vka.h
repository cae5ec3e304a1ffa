/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Porting-check stub of libsel4vka's <vka/vka.h>, seL4's kernel object
 * allocator. Declarations only: on Linux frames come from guestmem
 * (vmm_frame_alloc in <sel4vm/guestmem.h>), so code calling these compiles
 * and does not link.
 */
#ifndef GUESTMEM_STUB_VKA_VKA_H
#define GUESTMEM_STUB_VKA_VKA_H

#include <assert.h>
#include <stdint.h>

#include <autoconf.h>
#include <sel4/sel4.h>
#include <sel4/types.h>
#include <utils/util.h>
#include <vka/cspacepath_t.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The allocator: an implementation's state (its operations are not modelled). */
typedef struct vka {
    void *data;
} vka_t;

int vka_cspace_alloc(vka_t *vka, seL4_CPtr *res);
void vka_cspace_make_path(vka_t *vka, seL4_CPtr slot, cspacepath_t *res);
int vka_cspace_alloc_path(vka_t *vka, cspacepath_t *res);
void vka_cspace_free(vka_t *vka, seL4_CPtr slot);
void vka_cspace_free_path(vka_t *vka, cspacepath_t path);
int vka_utspace_alloc(vka_t *vka, const cspacepath_t *dest, seL4_Word type, seL4_Word size_bits, seL4_Word *res);
int vka_utspace_alloc_maybe_device(vka_t *vka, const cspacepath_t *dest, seL4_Word type, seL4_Word size_bits,
                                   bool can_use_dev, seL4_Word *res);
int vka_utspace_alloc_at(vka_t *vka, const cspacepath_t *dest, seL4_Word type, seL4_Word size_bits, uintptr_t paddr,
                         seL4_Word *cookie);
void vka_utspace_free(vka_t *vka, seL4_Word type, seL4_Word size_bits, seL4_Word target);
uintptr_t vka_utspace_paddr(vka_t *vka, seL4_Word ut, seL4_Word type, seL4_Word size_bits);

#ifdef __cplusplus
}
#endif

#endif /* GUESTMEM_STUB_VKA_VKA_H */
