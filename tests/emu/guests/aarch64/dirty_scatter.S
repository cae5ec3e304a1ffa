/* SPDX-License-Identifier: BSD-2-Clause */
// Stores i + 1 (a doubleword) at x0 + i * x2 for i in [0, x1); wfi. Writes
// no other memory (no stack).
    .text
    .globl _start
_start:
    mov x4, #0
    mov x6, x0
1:  add x5, x4, #1
    str x5, [x6]
    add x6, x6, x2
    add x4, x4, #1
    cmp x4, x1
    b.lo 1b
    wfi
