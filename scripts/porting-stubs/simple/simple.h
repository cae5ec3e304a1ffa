/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Porting-check stub of libsel4simple's <simple/simple.h>, the view of the
 * boot environment (initial capabilities, untypeds, device frames).
 * Declarations only: code calling these compiles and does not link.
 */
#ifndef GUESTMEM_STUB_SIMPLE_SIMPLE_H
#define GUESTMEM_STUB_SIMPLE_SIMPLE_H

#include <assert.h>
#include <stdbool.h>
#include <stdlib.h>
#include <sys/types.h>

#include <autoconf.h>
#include <sel4/sel4.h>
#include <utils/util.h>
#include <vka/cspacepath_t.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The boot environment: an implementation's state (its operations are not modelled). */
typedef struct simple_t {
    void *data;
} simple_t;

seL4_Error simple_get_frame_cap(simple_t *simple, void *paddr, int size_bits, cspacepath_t *path);
void *simple_get_frame_vaddr(simple_t *simple, void *paddr, int size_bits);
void *simple_get_frame_info(simple_t *simple, void *paddr, int size_bits, seL4_CPtr *frame_cap, seL4_Word *ut_offset);
seL4_Error simple_get_IRQ_handler(simple_t *simple, int irq, cspacepath_t path);
int simple_get_cap_count(simple_t *simple);
seL4_CPtr simple_get_nth_cap(simple_t *simple, int n);
int simple_get_cnode_size_bits(simple_t *simple);
seL4_CPtr simple_init_cap(simple_t *simple, seL4_CPtr cap);
seL4_CPtr simple_get_cnode(simple_t *simple);
seL4_CPtr simple_get_tcb(simple_t *simple);
seL4_CPtr simple_get_pd(simple_t *simple);
seL4_CPtr simple_get_irq_ctrl(simple_t *simple);
seL4_CPtr simple_get_init_cap(simple_t *simple, seL4_CPtr cap);
int simple_get_untyped_count(simple_t *simple);
seL4_CPtr simple_get_nth_untyped(simple_t *simple, int n, size_t *size_bits, uintptr_t *paddr, bool *device);
int simple_get_core_count(simple_t *simple);
seL4_CPtr simple_get_iospace(simple_t *simple, uint16_t domainID, uint16_t deviceID, cspacepath_t *path);
ssize_t simple_get_extended_bootinfo_length(simple_t *simple, seL4_Word type);
ssize_t simple_get_extended_bootinfo(simple_t *simple, seL4_Word type, void *dest, ssize_t max_len);

#ifdef __cplusplus
}
#endif

#endif /* GUESTMEM_STUB_SIMPLE_SIMPLE_H */
