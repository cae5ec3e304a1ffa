/* SPDX-License-Identifier: BSD-2-Clause */
/* Benchmark guest (16-bit real mode): CX writes of the 2-byte value DI to
 * ES:SI with ES = DX, then HLT. Unrolled: 10 accesses per loop iteration, so
 * the loop costs little next to the accesses.
 * CX counts iterations (10 accesses each).
 *   DI: value, DX: segment of the device, SI: offset, CX: count
 */
    .code16
    .text
    .globl _start
_start:
    mov %dx, %es
    jcxz 2f
1:
    .rept 10
    mov %di, %es:(%si)
    .endr
    loop 1b
2:
    hlt
    jmp 2b
