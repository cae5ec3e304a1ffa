/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Porting-check stub of libutils' <utils/util.h>: the logging macros, the
 * arithmetic, size and attribute macros seL4 code uses, and the C library
 * headers it expects from here. The macros are real (they compute what
 * their names say); names and meanings are libutils'.
 */
#ifndef GUESTMEM_STUB_UTILS_UTIL_H
#define GUESTMEM_STUB_UTILS_UTIL_H

#include <assert.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <utils/config.h>
#include <utils/zf_log.h>
#include <utils/zf_log_if.h>

/* Attributes. */
#define PACKED __attribute__((__packed__))
#define UNUSED __attribute__((__unused__))
#define USED __attribute__((__used__))
#define WEAK __attribute__((__weak__))
#define NORETURN __attribute__((__noreturn__))
#define CONST __attribute__((__const__))
#define PURE __attribute__((__pure__))
#define ALIGN(n) __attribute__((__aligned__(n)))
#define SECTION(name) __attribute__((__section__(name)))
#define NONNULL(...) __attribute__((__nonnull__(__VA_ARGS__)))
#define WARN_UNUSED_RESULT __attribute__((__warn_unused_result__))
#define ALWAYS_INLINE __attribute__((__always_inline__))
#define NO_INLINE __attribute__((__noinline__))
#define likely(x) __builtin_expect(!!(x), 1)
#define unlikely(x) __builtin_expect(!!(x), 0)
#define compile_time_assert(name, expr) _Static_assert(expr, #name)

/* Bits and arithmetic. */
#define BIT(n) (1ul << (n))
#define MASK(n) (BIT(n) - 1ul)
#define IS_POWER_OF_2(x) ((x) != 0 && ((x) & ((x)-1)) == 0)
#define ROUND_DOWN(n, b) (((n) / (b)) * (b))
#define ROUND_UP(n, b) ((((n) + (b)-1) / (b)) * (b))
#define DIV_ROUND_UP(n, d) (((n) + (d)-1) / (d))
#define ALIGN_DOWN(x, a) ((x) & ~((__typeof__(x))((a)-1)))
#define ALIGN_UP(x, a) ALIGN_DOWN((x) + ((a)-1), (a))
#define IS_ALIGNED(n, b) (!((n)&MASK(b)))
#define MIN(a, b)                                                              \
    __extension__({                                                            \
        __typeof__(a) guestmem_min_a_ = (a);                                   \
        __typeof__(b) guestmem_min_b_ = (b);                                   \
        guestmem_min_a_ < guestmem_min_b_ ? guestmem_min_a_ : guestmem_min_b_; \
    })
#define MAX(a, b)                                                              \
    __extension__({                                                            \
        __typeof__(a) guestmem_max_a_ = (a);                                   \
        __typeof__(b) guestmem_max_b_ = (b);                                   \
        guestmem_max_a_ > guestmem_max_b_ ? guestmem_max_a_ : guestmem_max_b_; \
    })
#define ARRAY_SIZE(x) (sizeof(x) / sizeof((x)[0]))
#define CLZL(x) __builtin_clzl(x)
#define CTZL(x) __builtin_ctzl(x)
#define CLZ(x) __builtin_clz(x)
#define CTZ(x) __builtin_ctz(x)
#define LOG_BASE_2(n) ((int)(sizeof(unsigned long) * 8 - 1) - CLZL(n))
#define container_of(ptr, type, member) ((type *)((char *)(ptr)-offsetof(type, member)))

/* Sizes. */
#define SIZE_BITS_TO_BYTES(bits) (1ul << (bits))
#define BYTES_TO_SIZE_BITS(bytes) LOG_BASE_2(bytes)
#define BYTES_TO_4K_PAGES(bytes) ((bytes) >> PAGE_BITS_4K)
#define PAGE_BITS_4K 12
#define PAGE_BITS_2M 21
#define PAGE_BITS_4M 22
#define PAGE_BITS_1G 30
#define PAGE_SIZE_4K SIZE_BITS_TO_BYTES(PAGE_BITS_4K)
#define PAGE_SIZE_2M SIZE_BITS_TO_BYTES(PAGE_BITS_2M)
#define PAGE_SIZE_4M SIZE_BITS_TO_BYTES(PAGE_BITS_4M)
#define PAGE_SIZE_1G SIZE_BITS_TO_BYTES(PAGE_BITS_1G)
#define PAGE_ALIGN(addr, size) ((addr) & ~((size)-1))
#define PAGE_ALIGN_4K(addr) PAGE_ALIGN(addr, PAGE_SIZE_4K)
#define KiB_TO_BYTES(x) ((x)*1024ull)
#define MiB_TO_BYTES(x) (KiB_TO_BYTES(x) * 1024ull)
#define GiB_TO_BYTES(x) (MiB_TO_BYTES(x) * 1024ull)

/* Time. */
#define NS_IN_US 1000ull
#define NS_IN_MS 1000000ull
#define NS_IN_S 1000000000ull
#define US_IN_MS 1000ull
#define US_IN_S 1000000ull
#define MS_IN_S 1000ull

/* Register access: one volatile load or store of the width named. */
#define RAW_READ8(addr) (*(volatile uint8_t *)(addr))
#define RAW_READ16(addr) (*(volatile uint16_t *)(addr))
#define RAW_READ32(addr) (*(volatile uint32_t *)(addr))
#define RAW_READ64(addr) (*(volatile uint64_t *)(addr))
#define RAW_WRITE8(addr, v) (*(volatile uint8_t *)(addr) = (uint8_t)(v))
#define RAW_WRITE16(addr, v) (*(volatile uint16_t *)(addr) = (uint16_t)(v))
#define RAW_WRITE32(addr, v) (*(volatile uint32_t *)(addr) = (uint32_t)(v))
#define RAW_WRITE64(addr, v) (*(volatile uint64_t *)(addr) = (uint64_t)(v))

#endif /* GUESTMEM_STUB_UTILS_UTIL_H */
