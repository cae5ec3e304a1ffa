/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Porting-check stub of libutils' conditional logging: ZF_LOGx_IF(cond, ...)
 * logs (ZF_LOGF_IF: and aborts) when cond is true.
 */
#ifndef GUESTMEM_STUB_UTILS_ZF_LOG_IF_H
#define GUESTMEM_STUB_UTILS_ZF_LOG_IF_H

#include <utils/zf_log.h>

#define GUESTMEM_ZF_LOG_IF(log, cond, ...) \
    do {                                   \
        if (cond) {                        \
            log(__VA_ARGS__);              \
        }                                  \
    } while (0)

#define ZF_LOGV_IF(cond, ...) GUESTMEM_ZF_LOG_IF(ZF_LOGV, cond, __VA_ARGS__)
#define ZF_LOGD_IF(cond, ...) GUESTMEM_ZF_LOG_IF(ZF_LOGD, cond, __VA_ARGS__)
#define ZF_LOGI_IF(cond, ...) GUESTMEM_ZF_LOG_IF(ZF_LOGI, cond, __VA_ARGS__)
#define ZF_LOGW_IF(cond, ...) GUESTMEM_ZF_LOG_IF(ZF_LOGW, cond, __VA_ARGS__)
#define ZF_LOGE_IF(cond, ...) GUESTMEM_ZF_LOG_IF(ZF_LOGE, cond, __VA_ARGS__)
#define ZF_LOGF_IF(cond, ...) GUESTMEM_ZF_LOG_IF(ZF_LOGF, cond, __VA_ARGS__)

#endif /* GUESTMEM_STUB_UTILS_ZF_LOG_IF_H */
