/* SPDX-License-Identifier: BSD-2-Clause */
// Code in two 64 KiB chunks: the entry calls a function 64 KiB further on,
// so that each chunk's first touch is an instruction fetch. rax = 3 * rdi + 1; hlt.
    .code64
    .text
    .globl _start
_start:
    mov %rdi, %rax
    call far_function
    inc %rax
    hlt

    .org 0x10000
    .globl far_function
far_function:
    lea (%rax,%rax,2), %rax
    ret
