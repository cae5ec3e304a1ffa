/* SPDX-License-Identifier: BSD-2-Clause */
// Forever: read the doubleword at x0 (a device), write a counter to x1 (RAM).
    .text
    .globl _start
_start:
    mov x3, #0
1:  ldr x4, [x0]
    str x3, [x1]
    add x3, x3, #1
    b 1b
