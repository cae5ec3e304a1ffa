/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Porting-check stub of libutils' <utils/config.h>: config_set(CONFIG_X) is
 * 1 in an expression (#if included) when CONFIG_X is defined to 1 or to
 * nothing, else 0.
 */
#ifndef GUESTMEM_STUB_UTILS_CONFIG_H
#define GUESTMEM_STUB_UTILS_CONFIG_H

#include <autoconf.h>

#define GUESTMEM_CONFIG_PROBE_1 ~, 1
#define GUESTMEM_CONFIG_PROBE_ ~, 1
#define GUESTMEM_CONFIG_SECOND(a, b, ...) b
#define GUESTMEM_CONFIG_CHECK(...) GUESTMEM_CONFIG_SECOND(__VA_ARGS__, 0, ~)
#define GUESTMEM_CONFIG_PASTE(x) GUESTMEM_CONFIG_CHECK(GUESTMEM_CONFIG_PROBE_##x)
#define GUESTMEM_CONFIG_EXPAND(x) GUESTMEM_CONFIG_PASTE(x)
#define config_set(macro) GUESTMEM_CONFIG_EXPAND(macro)
#define config_ternary(macro, yes, no) (config_set(macro) ? (yes) : (no))

#endif /* GUESTMEM_STUB_UTILS_CONFIG_H */
