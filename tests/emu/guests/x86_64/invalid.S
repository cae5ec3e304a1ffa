/* SPDX-License-Identifier: BSD-2-Clause */
// An undefined instruction.
    .code64
    .text
    .globl _start
_start:
    ud2
