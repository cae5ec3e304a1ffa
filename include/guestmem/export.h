// SPDX-License-Identifier: BSD-2-Clause
/**
 * @file
 * GUESTMEM_API, the mark on every function and class of guestmem's public
 * interface. The library is compiled with hidden visibility, so that
 * libguestmem.so exports only what carries this mark (the symbol list is
 * checked by the package_symbols test); everything else stays private and may
 * change without breaking the ABI. Usable from C99 and C++.
 *
 * Users need define nothing. A build that must not mark symbols may define
 * GUESTMEM_API as empty before including any guestmem header.
 */
#ifndef GUESTMEM_EXPORT_H
#define GUESTMEM_EXPORT_H

#ifndef GUESTMEM_API
#if defined(__GNUC__) || defined(__clang__)
/* Default visibility: exported when building libguestmem.so, and a no-op for
 * users of either library (their references bind to the definition). */
#define GUESTMEM_API __attribute__((visibility("default")))
#else
#define GUESTMEM_API
#endif
#endif

#endif /* GUESTMEM_EXPORT_H */
