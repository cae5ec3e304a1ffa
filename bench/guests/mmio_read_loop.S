/* SPDX-License-Identifier: BSD-2-Clause */
/* Benchmark guest (16-bit real mode): CX reads of 2 bytes at ES:SI with
 * ES = DX, then HLT. Unrolled: 10 accesses per loop iteration, so
 * the loop costs little next to the accesses.
 * CX counts iterations (10 accesses each).
 *   DX: segment of the device (e.g. 0xd000 for 0xd0000), SI: offset, CX: count
 */
    .code16
    .text
    .globl _start
_start:
    mov %dx, %es
    jcxz 2f
1:
    .rept 10
    mov %es:(%si), %ax
    .endr
    loop 1b
2:
    hlt
    jmp 2b
