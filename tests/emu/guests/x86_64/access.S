/* SPDX-License-Identifier: BSD-2-Clause */
// One guest access, then hlt. rdi: address, rsi: value to store,
// rdx: operation (0-3 store 1/2/4/8 bytes, 4-7 load 1/2/4/8 bytes into rax).
    .code64
    .text
    .globl _start
_start:
    cmp $0, %rdx
    je store1
    cmp $1, %rdx
    je store2
    cmp $2, %rdx
    je store4
    cmp $3, %rdx
    je store8
    cmp $4, %rdx
    je load1
    cmp $5, %rdx
    je load2
    cmp $6, %rdx
    je load4
    jmp load8
store1: movb %sil, (%rdi)
    hlt
store2: movw %si, (%rdi)
    hlt
store4: movl %esi, (%rdi)
    hlt
store8: movq %rsi, (%rdi)
    hlt
load1: movzbq (%rdi), %rax
    hlt
load2: movzwq (%rdi), %rax
    hlt
load4: movl (%rdi), %eax
    hlt
load8: movq (%rdi), %rax
    hlt
