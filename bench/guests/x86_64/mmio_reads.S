/* SPDX-License-Identifier: BSD-2-Clause */
/* Benchmark guest (x86-64, long mode, position independent): rdi loop
 * iterations of 10 four-byte reads of the device register at rsi, then hlt.
 * Unrolled so that the loop costs little next to the reads. The AArch64
 * version (../aarch64/mmio_reads.S) has the same shape, so the emulator
 * figures of both architectures compare. Any runner works: the raw Unicorn
 * baseline (baselines/raw_unicorn.*) and the library's emu backend run it
 * unchanged.
 *   rdi: iterations (reads = 10 * rdi), rsi: device address (4-byte aligned)
 */
    .intel_syntax noprefix
    .code64
    .text
    .globl _start
_start:
    test rdi, rdi
    jz 2f
1:
    .rept 10
    mov eax, dword ptr [rsi]
    .endr
    dec rdi
    jnz 1b
2:  hlt
    jmp 2b
