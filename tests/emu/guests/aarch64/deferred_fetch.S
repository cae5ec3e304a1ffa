/* SPDX-License-Identifier: BSD-2-Clause */
// Code in two 64 KiB chunks: the entry calls a function 64 KiB further on,
// so that each chunk's first touch is an instruction fetch. x3 = 3 * x0 + 1; wfi.
    .text
    .globl _start
_start:
    mov x3, x0
    bl far_function
    add x3, x3, #1
    wfi

    .org 0x10000
    .globl far_function
far_function:
    add x3, x3, x3, lsl #1
    ret
