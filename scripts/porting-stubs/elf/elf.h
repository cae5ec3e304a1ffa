/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Porting-check stub of seL4's libelf <elf/elf.h>: reading an ELF image in
 * memory, with libelf's names and signatures. Declarations only. The ELF
 * structures and constants themselves come from the C library's <elf.h>.
 */
#ifndef GUESTMEM_STUB_ELF_ELF_H
#define GUESTMEM_STUB_ELF_ELF_H

#include <elf.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* An ELF image: where it is, its size, its class (ELFCLASS32 or ELFCLASS64). */
typedef struct elf {
    void const *elfFile;
    size_t elfSize;
    unsigned char elfClass;
} elf_t;

typedef enum elf_addr_type { VIRTUAL, PHYSICAL } elf_addr_type_t;

int elf_newFile(const void *file, size_t size, elf_t *res);
int elf_newFile_maybe_unsafe(const void *file, size_t size, bool check_pht, bool check_st, elf_t *res);
int elf_check_magic(const char *file);
int elf_checkFile(elf_t *elfFile);
int elf_checkProgramHeaderTable(const elf_t *elfFile);
int elf_checkSectionTable(const elf_t *elfFile);
int elf_isElf32(const elf_t *elf);
int elf_isElf64(const elf_t *elf);
uintptr_t elf_getEntryPoint(const elf_t *elfFile);
size_t elf_getNumProgramHeaders(const elf_t *elfFile);
size_t elf_getNumSections(const elf_t *elfFile);
uint32_t elf_getProgramHeaderType(const elf_t *elfFile, size_t ph);
size_t elf_getProgramHeaderOffset(const elf_t *elfFile, size_t ph);
uintptr_t elf_getProgramHeaderVaddr(const elf_t *elfFile, size_t ph);
uintptr_t elf_getProgramHeaderPaddr(const elf_t *elfFile, size_t ph);
size_t elf_getProgramHeaderFileSize(const elf_t *elfFile, size_t ph);
size_t elf_getProgramHeaderMemorySize(const elf_t *elfFile, size_t ph);
uint32_t elf_getProgramHeaderFlags(const elf_t *elfFile, size_t ph);
int elf_getMemoryBounds(const elf_t *elfFile, elf_addr_type_t addr_type, uintptr_t *min, uintptr_t *max);

#ifdef __cplusplus
}
#endif

#endif /* GUESTMEM_STUB_ELF_ELF_H */
