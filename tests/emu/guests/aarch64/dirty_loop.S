/* SPDX-License-Identifier: BSD-2-Clause */
// Forever, for c = 1, 2, ...: stores c (a doubleword) at x0 + i * x2 for i in
// [0, x1). Writes no other memory (no stack).
    .text
    .globl _start
_start:
    mov x5, #1
1:  mov x4, #0
    mov x6, x0
2:  str x5, [x6]
    add x6, x6, x2
    add x4, x4, #1
    cmp x4, x1
    b.lo 2b
    add x5, x5, #1
    b 1b
