/* SPDX-License-Identifier: BSD-2-Clause */
// Forever: read the quadword at rdi (a device), write a counter to rsi (RAM).
    .code64
    .text
    .globl _start
_start:
    xor %rax, %rax
1:  mov (%rdi), %rbx
    mov %rax, (%rsi)
    inc %rax
    jmp 1b
