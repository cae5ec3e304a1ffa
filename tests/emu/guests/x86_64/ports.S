/* SPDX-License-Identifier: BSD-2-Clause */
// out 0x41 to port 0x80, in from port 0x81 into al; hlt.
    .code64
    .text
    .globl _start
_start:
    xor %rax, %rax
    mov $0x41, %al
    out %al, $0x80
    in $0x81, %al
    hlt
