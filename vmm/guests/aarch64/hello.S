/* SPDX-License-Identifier: BSD-2-Clause */
/* hello (AArch64): prints a greeting and what the boot ROM says through the
 * UART, then exits with status 0. The same output as ../hello.S.
 * EL1, MMU off, position independent. */
#include "vmm_platform.inc"

    .text
    .global _start
_start:
    adr x1, greeting
    bl puts

    /* The boot information in the read-only ROM */
    ldr x19, =ROM_BASE
    ldr x20, [x19, #BOOT_MAGIC]
    ldr x21, =0x4d454d5453455547         /* "GUESTMEM", little-endian */
    cmp x20, x21
    b.ne bad_rom
    adr x1, ram_is
    bl puts
    ldr x0, [x19, #BOOT_RAM_SIZE]
    bl puthex
    adr x1, bytes
    bl puts

    /* A write to the ROM faults into the VMM, which drops it */
    str xzr, [x19, #BOOT_MAGIC]
    ldr x20, [x19, #BOOT_MAGIC]
    cmp x20, x21
    b.ne bad_rom
    adr x1, rom_ok
    bl puts

    adr x1, goodbye
    bl puts
    mov w0, #0
    b exit

bad_rom:
    adr x1, rom_bad
    bl puts
    mov w0, #1
    b exit

#include "uart.inc"

greeting: .asciz "Hello from a guest running on guestmem!\n"
ram_is:   .asciz "The boot ROM says RAM is "
bytes:    .asciz " bytes.\n"
rom_ok:   .asciz "Writing the ROM was refused: it still says GUESTMEM.\n"
rom_bad:  .asciz "The boot ROM is not what it should be!\n"
goodbye:  .asciz "Goodbye.\n"
