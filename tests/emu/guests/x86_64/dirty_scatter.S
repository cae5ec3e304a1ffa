/* SPDX-License-Identifier: BSD-2-Clause */
// Stores i + 1 (a quadword) at rdi + i * rdx for i in [0, rsi); hlt. Writes
// no other memory (no stack).
    .code64
    .text
    .globl _start
_start:
    xor %rcx, %rcx
    mov %rdi, %rax
1:  lea 1(%rcx), %rbx
    mov %rbx, (%rax)
    add %rdx, %rax
    inc %rcx
    cmp %rsi, %rcx
    jb 1b
    hlt
