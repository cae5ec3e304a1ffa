/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Porting-check stub of libsel4vmmplatsupport's generated configuration.
 * Its options default to off here; turn one on with --define, e.g.
 * --define CONFIG_VMM_USE_HPET.
 */
#ifndef GUESTMEM_STUB_SEL4VMMPLATSUPPORT_GEN_CONFIG_H
#define GUESTMEM_STUB_SEL4VMMPLATSUPPORT_GEN_CONFIG_H
#include <autoconf.h>
#endif
