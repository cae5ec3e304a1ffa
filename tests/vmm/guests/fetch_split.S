/* SPDX-License-Identifier: BSD-2-Clause */
/* fetch_split: code in two 64 KiB RAM chunks (linked at 0x100000, the
 * second part at 0x120000). Prints a line, calls the far part, which prints
 * the second line, and exits with status 0. With --deferred-ram each
 * chunk's first touch is an instruction fetch. */
#include "vmm_platform.inc"

    .intel_syntax noprefix
    .code64
    .text
    .global _start
_start:
    lea rsi, [rip + first_line]
    call puts
    call far_part
    xor edi, edi
    jmp exit

#include "uart.inc"

first_line: .asciz "fetch_split: first chunk\n"

    .org 0x20000
far_part:
    lea rsi, [rip + second_line]
    call puts
    ret

second_line: .asciz "fetch_split: second chunk\n"
