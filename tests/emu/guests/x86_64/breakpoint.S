/* SPDX-License-Identifier: BSD-2-Clause */
// A breakpoint trap.
    .code64
    .text
    .globl _start
_start:
    nop
    int3
    hlt
