/* SPDX-License-Identifier: BSD-2-Clause */
/* Writes and reads an emulated device with one instruction per access size.
 *   rdi: the device's guest address (at least 40 bytes, identity mapped)
 * Accesses, in order:
 *   write 1 byte  0xa1               at +0
 *   write 2 bytes 0xb2b1             at +8
 *   write 4 bytes 0xc4c3c2c1         at +16
 *   write 8 bytes 0xd8d7d6d5d4d3d2d1 at +24
 *   read 1 at +0 -> r8, read 2 at +8 -> r9, read 4 at +16 -> r10, read 8 at +24 -> r11
 *   write 2 bytes 0x5a6b at +34 (a lane in the middle of a 32-bit word)
 *   read 1 at +35 -> r12
 * then HLT. A register-file device gives r8..r12 = 0xa1, 0xb2b1, 0xc4c3c2c1,
 * 0xd8d7d6d5d4d3d2d1, 0x5a.
 */
    .code64
    .text
    .globl _start
_start:
    movb $0xa1, 0(%rdi)
    movw $0xb2b1, 8(%rdi)
    movl $0xc4c3c2c1, 16(%rdi)
    movabs $0xd8d7d6d5d4d3d2d1, %rax
    movq %rax, 24(%rdi)
    movzbl 0(%rdi), %r8d
    movzwl 8(%rdi), %r9d
    movl 16(%rdi), %r10d
    movq 24(%rdi), %r11
    movw $0x5a6b, 34(%rdi)
    movzbl 35(%rdi), %r12d
    .globl done
done:
    hlt
    jmp done
