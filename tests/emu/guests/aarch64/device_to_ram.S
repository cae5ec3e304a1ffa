/* SPDX-License-Identifier: BSD-2-Clause */
// Reads the doubleword at x1 (a device) and stores it at x0 (RAM); wfi.
    .text
    .globl _start
_start:
    ldr x4, [x1]
    str x4, [x0]
    wfi
