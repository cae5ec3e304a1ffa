/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Porting-check stub of libutils' logging macros (zf_log): ZF_LOGV, ZF_LOGD,
 * ZF_LOGI, ZF_LOGW, ZF_LOGE and ZF_LOGF take a printf format and arguments
 * and print one line to stderr, with the level, function and line.
 * ZF_LOGF aborts after printing. Lines below ZF_LOG_LEVEL are not printed
 * (their arguments are still type-checked): by default errors and warnings
 * print; -DZF_LOG_LEVEL=ZF_LOG_VERBOSE prints everything.
 */
#ifndef GUESTMEM_STUB_UTILS_ZF_LOG_H
#define GUESTMEM_STUB_UTILS_ZF_LOG_H

#include <stdio.h>
#include <stdlib.h>

#define ZF_LOG_VERBOSE 1
#define ZF_LOG_DEBUG 2
#define ZF_LOG_INFO 3
#define ZF_LOG_WARN 4
#define ZF_LOG_ERROR 5
#define ZF_LOG_FATAL 0xFFFF
#define ZF_LOG_NONE 0xFFFF

#ifndef ZF_LOG_LEVEL
#define ZF_LOG_LEVEL ZF_LOG_WARN
#endif

#define ZF_LOG_ALLOW(level) ((level) >= ZF_LOG_LEVEL)
#define ZF_LOG_ON(level) ZF_LOG_ALLOW(level)
#define ZF_LOG_ON_VERBOSE ZF_LOG_ON(ZF_LOG_VERBOSE)
#define ZF_LOG_ON_DEBUG ZF_LOG_ON(ZF_LOG_DEBUG)
#define ZF_LOG_ON_INFO ZF_LOG_ON(ZF_LOG_INFO)
#define ZF_LOG_ON_WARN ZF_LOG_ON(ZF_LOG_WARN)
#define ZF_LOG_ON_ERROR ZF_LOG_ON(ZF_LOG_ERROR)
#define ZF_LOG_ON_FATAL ZF_LOG_ON(ZF_LOG_FATAL)

/*
 * One line on stderr: "<letter> <function>@<line>: <message>". The format
 * and its arguments are given together (__VA_ARGS__), so that a lone format
 * string works too.
 */
#define GUESTMEM_ZF_LOG_LINE(level, letter, ...)                       \
    do {                                                               \
        if (ZF_LOG_ALLOW(level)) {                                     \
            fprintf(stderr, "%s %s@%d: ", letter, __func__, __LINE__); \
            fprintf(stderr, __VA_ARGS__);                              \
            fputc('\n', stderr);                                       \
        }                                                              \
    } while (0)

#define ZF_LOGV(...) GUESTMEM_ZF_LOG_LINE(ZF_LOG_VERBOSE, "V", __VA_ARGS__)
#define ZF_LOGD(...) GUESTMEM_ZF_LOG_LINE(ZF_LOG_DEBUG, "D", __VA_ARGS__)
#define ZF_LOGI(...) GUESTMEM_ZF_LOG_LINE(ZF_LOG_INFO, "I", __VA_ARGS__)
#define ZF_LOGW(...) GUESTMEM_ZF_LOG_LINE(ZF_LOG_WARN, "W", __VA_ARGS__)
#define ZF_LOGE(...) GUESTMEM_ZF_LOG_LINE(ZF_LOG_ERROR, "E", __VA_ARGS__)
#define ZF_LOGF(...)                                          \
    do {                                                      \
        GUESTMEM_ZF_LOG_LINE(ZF_LOG_FATAL, "F", __VA_ARGS__); \
        abort();                                              \
    } while (0)

#endif /* GUESTMEM_STUB_UTILS_ZF_LOG_H */
