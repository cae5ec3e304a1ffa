/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Porting-check stub of libsel4utils' <sel4utils/mapping.h>: mapping frames
 * into seL4 address spaces. Declarations only (code calling these compiles
 * and does not link): a hosted VMM reads frames with vmm_frame_vaddr
 * (<sel4vm/guestmem.h>).
 */
#ifndef GUESTMEM_STUB_SEL4UTILS_MAPPING_H
#define GUESTMEM_STUB_SEL4UTILS_MAPPING_H

#include <autoconf.h>
#include <sel4/sel4.h>
#include <utils/util.h>
#include <vka/object.h>
#include <vka/vka.h>
#include <vspace/vspace.h>

#ifdef __cplusplus
extern "C" {
#endif

int sel4utils_map_page(vka_t *vka, seL4_CPtr pd, seL4_CPtr frame, void *vaddr, seL4_CapRights_t rights, int cacheable,
                       vka_object_t *objects, int *num_objects);
int sel4utils_map_page_leaky(vka_t *vka, seL4_CPtr pd, seL4_CPtr frame, void *vaddr, seL4_CapRights_t rights,
                             int cacheable);
void *sel4utils_dup_and_map(vka_t *vka, vspace_t *vspace, seL4_CPtr page, size_t size_bits);
void sel4utils_unmap_dup(vka_t *vka, vspace_t *vspace, void *mapping, size_t size_bits);

#ifdef __cplusplus
}
#endif

#endif /* GUESTMEM_STUB_SEL4UTILS_MAPPING_H */
