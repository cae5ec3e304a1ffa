/* SPDX-License-Identifier: BSD-2-Clause */
// A device store with RAM work after it in the same translated block.
// rdi: device address, rsi: value to store, rdx: RAM address.
// rax is 1 before the store, 2 once the instructions after it ran.
    .code64
    .text
    .globl _start
_start:
    movq $1, %rax
    .globl store
store:
    movl %esi, (%rdi)
    movq $2, %rax
    movq %rax, (%rdx)
    hlt
