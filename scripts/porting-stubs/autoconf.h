/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Porting-check stub of seL4's generated kernel configuration header.
 *
 * The configuration is the user's: give it on the command line
 * (porting-check.sh --define CONFIG_ARCH_AARCH64 --define CONFIG_PLAT_...).
 * This header only completes it: an architecture's family from its name, and
 * the word size.
 */
#ifndef GUESTMEM_STUB_AUTOCONF_H
#define GUESTMEM_STUB_AUTOCONF_H

#if defined(CONFIG_ARCH_AARCH64) || defined(CONFIG_ARCH_AARCH32) || defined(CONFIG_ARCH_ARM_HYP)
#ifndef CONFIG_ARCH_ARM
#define CONFIG_ARCH_ARM 1
#endif
#endif
#if defined(CONFIG_ARCH_X86_64) || defined(CONFIG_ARCH_IA32)
#ifndef CONFIG_ARCH_X86
#define CONFIG_ARCH_X86 1
#endif
#endif

/* guestmem's seL4_Word is 64 bits wide on every host. */
#ifndef CONFIG_WORD_SIZE
#define CONFIG_WORD_SIZE 64
#endif

#endif /* GUESTMEM_STUB_AUTOCONF_H */
