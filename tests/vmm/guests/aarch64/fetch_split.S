/* SPDX-License-Identifier: BSD-2-Clause */
/* fetch_split (AArch64): as ../fetch_split.S. Code in two 64 KiB RAM
 * chunks (linked at 0x100000, the second part at 0x120000); prints a line,
 * calls the far part, which prints the second line, and exits with 0. */
#include "vmm_platform.inc"

    .text
    .global _start
_start:
    adr x1, first_line
    bl puts
    bl far_part
    mov x0, #0
    b exit

#include "uart.inc"

first_line: .asciz "fetch_split: first chunk\n"

    .balign 4
    .org 0x20000
far_part:
    mov x22, x30
    adr x1, second_line
    bl puts
    mov x30, x22
    ret

second_line: .asciz "fetch_split: second chunk\n"
