/* SPDX-License-Identifier: BSD-2-Clause */
/* A 16-bit real-mode guest: device accesses through a segment register, and
 * port I/O on the debug port.
 *   di: the device's segment (the device is at di * 16, at least 8 bytes)
 * Accesses, in order:
 *   write 1 byte 0x11 at +0, 2 bytes 0x2222 at +2, 4 bytes 0x44444444 at +4
 *   read 1 at +0 -> bl, 2 at +2 -> cx, 4 at +4 -> edx
 *   OUT 'O' then 'K' to GUEST_DEBUG_PORT, IN from it -> al
 *   store cx at `result` in its own image (RAM, at native speed)
 * then HLT.
 */
#include "guest_abi.h"

    .code16
    .text
    .globl _start
_start:
    mov %di, %es
    movb $0x11, %es:0
    movw $0x2222, %es:2
    movl $0x44444444, %es:4
    movb %es:0, %bl
    movw %es:2, %cx
    movl %es:4, %edx
    mov $'O', %al
    out %al, $GUEST_DEBUG_PORT
    mov $'K', %al
    out %al, $GUEST_DEBUG_PORT
    in $GUEST_DEBUG_PORT, %al
    mov %cx, result
    .globl done
done:
    hlt
    jmp done

    .balign 2
    .globl result
result:
    .word 0
