/* SPDX-License-Identifier: BSD-2-Clause */
// Fills x1 doublewords at x0 with 3 * i, then sums them into x3; wfi.
    .text
    .globl _start
_start:
    mov x4, #0
1:  add x5, x4, x4, lsl #1
    str x5, [x0, x4, lsl #3]
    add x4, x4, #1
    cmp x4, x1
    b.lo 1b
    mov x4, #0
    mov x3, #0
2:  ldr x5, [x0, x4, lsl #3]
    add x3, x3, x5
    add x4, x4, #1
    cmp x4, x1
    b.lo 2b
    wfi
