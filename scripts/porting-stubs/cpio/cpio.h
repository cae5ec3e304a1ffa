/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Porting-check stub of seL4's libcpio <cpio/cpio.h>: finding files in a
 * newc CPIO archive in memory, with libcpio's names and signatures.
 * Declarations only.
 */
#ifndef GUESTMEM_STUB_CPIO_CPIO_H
#define GUESTMEM_STUB_CPIO_CPIO_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* An archive's file count and longest name. */
struct cpio_info {
    unsigned int file_count;
    unsigned int max_path_sz;
};

const void *cpio_get_entry(const void *archive, unsigned long len, int index, const char **name, unsigned long *size);
const void *cpio_get_file(const void *archive, unsigned long len, const char *name, unsigned long *size);
int cpio_info(const void *archive, unsigned long len, struct cpio_info *info);
void cpio_ls(const void *archive, unsigned long len, char **buf, unsigned long buf_len);

#ifdef __cplusplus
}
#endif

#endif /* GUESTMEM_STUB_CPIO_CPIO_H */
