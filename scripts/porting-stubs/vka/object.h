/* SPDX-License-Identifier: BSD-2-Clause */
/* Porting-check stub of libsel4vka's <vka/object.h>: allocating kernel objects. Declarations only. */
#ifndef GUESTMEM_STUB_VKA_OBJECT_H
#define GUESTMEM_STUB_VKA_OBJECT_H

#include <assert.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <utils/util.h>
#include <vka/vka.h>

#ifdef __cplusplus
extern "C" {
#endif

/* An allocated object: its capability, the untyped it came from, type and size. */
typedef struct vka_object {
    seL4_CPtr cptr;
    seL4_Word ut;
    seL4_Word type;
    seL4_Word size_bits;
} vka_object_t;

#define VKA_NO_PADDR 0

int vka_alloc_object_at(vka_t *vka, seL4_Word type, seL4_Word size_bits, uintptr_t paddr, vka_object_t *result);
int vka_alloc_object_at_maybe_dev(vka_t *vka, seL4_Word type, seL4_Word size_bits, uintptr_t paddr, bool can_use_dev,
                                  vka_object_t *result);
int vka_alloc_object(vka_t *vka, seL4_Word type, seL4_Word size_bits, vka_object_t *result);
void vka_free_object(vka_t *vka, vka_object_t *object);
int vka_alloc_untyped(vka_t *vka, uint32_t size_bits, vka_object_t *result);
int vka_alloc_tcb(vka_t *vka, vka_object_t *result);
int vka_alloc_endpoint(vka_t *vka, vka_object_t *result);
int vka_alloc_notification(vka_t *vka, vka_object_t *result);
int vka_alloc_cnode_object(vka_t *vka, uint32_t slot_bits, vka_object_t *result);
int vka_alloc_frame(vka_t *vka, uint32_t size_bits, vka_object_t *result);
int vka_alloc_frame_maybe_device(vka_t *vka, uint32_t size_bits, bool can_use_dev, vka_object_t *result);
int vka_alloc_frame_at(vka_t *vka, uint32_t size_bits, uintptr_t paddr, vka_object_t *result);
int vka_alloc_vcpu(vka_t *vka, vka_object_t *result);
void vka_object_cspace_path(vka_t *vka, vka_object_t object, cspacepath_t *result);

#ifdef __cplusplus
}
#endif

#endif /* GUESTMEM_STUB_VKA_OBJECT_H */
