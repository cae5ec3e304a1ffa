/* SPDX-License-Identifier: BSD-2-Clause */
/* Porting-check stub of libsel4vka's <vka/capops.h>: capability operations on paths. Declarations only. */
#ifndef GUESTMEM_STUB_VKA_CAPOPS_H
#define GUESTMEM_STUB_VKA_CAPOPS_H

#include <autoconf.h>
#include <vka/cspacepath_t.h>
#include <vka/object.h>

#ifdef __cplusplus
extern "C" {
#endif

int vka_cnode_copy(const cspacepath_t *dest, const cspacepath_t *src, seL4_CapRights_t rights);
int vka_cnode_delete(const cspacepath_t *src);
int vka_cnode_mint(const cspacepath_t *dest, const cspacepath_t *src, seL4_CapRights_t rights, seL4_Word badge);
int vka_cnode_move(const cspacepath_t *dest, const cspacepath_t *src);
int vka_cnode_mutate(const cspacepath_t *dest, const cspacepath_t *src, seL4_Word badge);
int vka_cnode_revoke(const cspacepath_t *src);
int vka_cnode_rotate(const cspacepath_t *dest, seL4_Word dest_badge, const cspacepath_t *pivot, seL4_Word pivot_badge,
                     const cspacepath_t *src);
int vka_cnode_saveCaller(const cspacepath_t *src);

#ifdef __cplusplus
}
#endif

#endif /* GUESTMEM_STUB_VKA_CAPOPS_H */
