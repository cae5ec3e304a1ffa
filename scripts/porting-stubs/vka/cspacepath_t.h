/* SPDX-License-Identifier: BSD-2-Clause */
/* Porting-check stub of libsel4vka's <vka/cspacepath_t.h>: a slot in a capability space. */
#ifndef GUESTMEM_STUB_VKA_CSPACEPATH_T_H
#define GUESTMEM_STUB_VKA_CSPACEPATH_T_H

#include <inttypes.h>
#include <stdio.h>

#include <sel4/sel4.h>

typedef struct _cspacepath_t {
    seL4_CPtr capPtr;
    seL4_Word capDepth;
    seL4_CNode root;
    seL4_Word dest;
    seL4_Word destDepth;
    seL4_Word offset;
    seL4_Word window;
} cspacepath_t;

#endif /* GUESTMEM_STUB_VKA_CSPACEPATH_T_H */
