/* SPDX-License-Identifier: BSD-2-Clause */
/* Porting-check stub of libsel4utils' <sel4utils/util.h>: libutils' macros and the seL4 types. */
#ifndef GUESTMEM_STUB_SEL4UTILS_UTIL_H
#define GUESTMEM_STUB_SEL4UTILS_UTIL_H

#include <autoconf.h>
#include <sel4/sel4.h>
#include <utils/util.h>

#endif /* GUESTMEM_STUB_SEL4UTILS_UTIL_H */
