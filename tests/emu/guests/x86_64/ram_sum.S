/* SPDX-License-Identifier: BSD-2-Clause */
// Fills rsi quadwords at rdi with 3 * i, then sums them into rax; hlt.
    .code64
    .text
    .globl _start
_start:
    xor %rcx, %rcx
1:  lea (%rcx,%rcx,2), %rdx
    mov %rdx, (%rdi,%rcx,8)
    inc %rcx
    cmp %rsi, %rcx
    jb 1b
    xor %rcx, %rcx
    xor %rax, %rax
2:  add (%rdi,%rcx,8), %rax
    inc %rcx
    cmp %rsi, %rcx
    jb 2b
    hlt
