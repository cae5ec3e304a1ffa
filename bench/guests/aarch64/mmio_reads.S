/* SPDX-License-Identifier: BSD-2-Clause */
/* Benchmark guest (AArch64, EL1, MMU off, position independent): x0 loop
 * iterations of 10 four-byte reads of the device register at x1, then wfi.
 * The same shape as ../x86_64/mmio_reads.S.
 *   x0: iterations (reads = 10 * x0), x1: device address (4-byte aligned)
 */
    .text
    .globl _start
_start:
    cbz x0, 2f
1:
    .rept 10
    ldr w2, [x1]
    .endr
    subs x0, x0, #1
    b.ne 1b
2:  wfi
    b 2b
