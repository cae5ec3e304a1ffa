/* SPDX-License-Identifier: BSD-2-Clause */
// Forever, for c = 1, 2, ...: stores c (a quadword) at rdi + i * rdx for i in
// [0, rsi). Writes no other memory (no stack).
    .code64
    .text
    .globl _start
_start:
    mov $1, %rbx
1:  xor %rcx, %rcx
    mov %rdi, %rax
2:  mov %rbx, (%rax)
    add %rdx, %rax
    inc %rcx
    cmp %rsi, %rcx
    jb 2b
    inc %rbx
    jmp 1b
