/* SPDX-License-Identifier: BSD-2-Clause */
// One instruction reads the quadword at rsi (a device) and stores it at rdi
// (RAM): movsq; hlt.
    .code64
    .text
    .globl _start
_start:
    movsq
    hlt
