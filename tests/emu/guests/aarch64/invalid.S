/* SPDX-License-Identifier: BSD-2-Clause */
// An undefined instruction (UDF #0).
    .text
    .globl _start
_start:
    .inst 0x00000000
