/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Porting-check stub of libsel4utils' <sel4utils/sel4_zf_logif.h>:
 * ZF_LOGx_IFERR(err, format, ...) logs (ZF_LOGF_IFERR: and aborts) when err
 * is not seL4_NoError, with the error's name.
 */
#ifndef GUESTMEM_STUB_SEL4UTILS_SEL4_ZF_LOGIF_H
#define GUESTMEM_STUB_SEL4UTILS_SEL4_ZF_LOGIF_H

#include <sel4/sel4.h>
#include <utils/util.h>

/* The name of a seL4_Error ("seL4_NoError", ...), or "unknown error". */
static inline const char *sel4_strerror(int err) {
    static const char *const names[] = {"seL4_NoError",          "seL4_InvalidArgument",  "seL4_InvalidCapability",
                                        "seL4_IllegalOperation", "seL4_RangeError",       "seL4_AlignmentError",
                                        "seL4_FailedLookup",     "seL4_TruncatedMessage", "seL4_DeleteFirst",
                                        "seL4_RevokeFirst",      "seL4_NotEnoughMemory"};
    if (err < 0 || err >= (int)(sizeof(names) / sizeof(names[0]))) {
        return "unknown error";
    }
    return names[err];
}

#define GUESTMEM_ZF_LOG_IFERR(log, err, ...)                          \
    do {                                                              \
        int guestmem_iferr_ = (int)(err);                             \
        if (guestmem_iferr_ != seL4_NoError) {                        \
            fprintf(stderr, "[%s] ", sel4_strerror(guestmem_iferr_)); \
            log(__VA_ARGS__);                                         \
        }                                                             \
    } while (0)

#define ZF_LOGD_IFERR(err, ...) GUESTMEM_ZF_LOG_IFERR(ZF_LOGD, err, __VA_ARGS__)
#define ZF_LOGI_IFERR(err, ...) GUESTMEM_ZF_LOG_IFERR(ZF_LOGI, err, __VA_ARGS__)
#define ZF_LOGW_IFERR(err, ...) GUESTMEM_ZF_LOG_IFERR(ZF_LOGW, err, __VA_ARGS__)
#define ZF_LOGE_IFERR(err, ...) GUESTMEM_ZF_LOG_IFERR(ZF_LOGE, err, __VA_ARGS__)
#define ZF_LOGF_IFERR(err, ...) GUESTMEM_ZF_LOG_IFERR(ZF_LOGF, err, __VA_ARGS__)

#endif /* GUESTMEM_STUB_SEL4UTILS_SEL4_ZF_LOGIF_H */
