/* SPDX-License-Identifier: BSD-2-Clause */
/* memtest (AArch64): writes a pattern to every page of RAM from 2 MiB to the
 * end of RAM (which the VMM may map lazily, chunk by chunk, on first touch),
 * reads it back, and reports through the UART. Exit status: 0 if every word
 * matched, 1 otherwise. The same work and output as ../memtest.S.
 * EL1, MMU off, position independent. */
#include "vmm_platform.inc"

#define TEST_START 0x200000
#define STRIDE 256          /* one doubleword every 256 bytes: 16 per page */

    .text
    .global _start
_start:
    adr x1, hello
    bl puts
    ldr x19, =ROM_BASE
    ldr x20, [x19, #BOOT_RAM_SIZE]      /* end of RAM */
    mov x21, #TEST_START
    cmp x20, x21
    b.ls too_small

    /* pass 1: write address ^ pattern */
    ldr x22, =0x5a5aa5a5c3c33c3c
    mov x2, x21
1:  eor x3, x2, x22
    str x3, [x2]
    add x2, x2, #STRIDE
    cmp x2, x20
    b.lo 1b

    /* pass 2: verify */
    mov x23, #0                         /* mismatches */
    mov x2, x21
2:  eor x3, x2, x22
    ldr x4, [x2]
    cmp x4, x3
    b.eq 3f
    add x23, x23, #1
3:  add x2, x2, #STRIDE
    cmp x2, x20
    b.lo 2b

    adr x1, tested
    bl puts
    sub x0, x20, x21
    lsr x0, x0, #12
    bl puthex
    adr x1, pages
    bl puts
    mov x0, x23
    bl puthex
    adr x1, mismatches
    bl puts
    cbnz x23, failed
    adr x1, passed
    bl puts
    mov w0, #0
    b exit
failed:
    adr x1, failed_msg
    bl puts
    mov w0, #1
    b exit
too_small:
    adr x1, small
    bl puts
    mov w0, #2
    b exit

#include "uart.inc"

hello:      .asciz "memtest: testing RAM from 0x200000 to the end of RAM\n"
tested:     .asciz "memtest: pages tested: "
pages:      .asciz ", mismatched words: "
mismatches: .asciz "\n"
passed:     .asciz "memtest: PASS\n"
failed_msg: .asciz "memtest: FAIL\n"
small:      .asciz "memtest: RAM must be larger than 2 MiB\n"
