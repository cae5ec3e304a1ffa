/* SPDX-License-Identifier: BSD-2-Clause */
// A breakpoint.
    .text
    .globl _start
_start:
    nop
    brk #0x42
    wfi
