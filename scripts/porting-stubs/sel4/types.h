/* SPDX-License-Identifier: BSD-2-Clause */
/* Porting-check stub of <sel4/types.h>: seL4's types, all in <sel4/sel4.h> here. */
#ifndef GUESTMEM_STUB_SEL4_TYPES_H
#define GUESTMEM_STUB_SEL4_TYPES_H
#include <sel4/sel4.h>
#endif
