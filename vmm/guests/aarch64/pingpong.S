/* SPDX-License-Identifier: BSD-2-Clause */
/* pingpong (AArch64): two VMs in one process exchange ROUNDS messages
 * through a shared frame and doorbells, as ../pingpong.S does. VM 0 pings:
 * it writes round i and i*i into the shared frame and rings; VM 1 waits for
 * the ring, checks the message, answers i and i*i+1 and rings back. Each
 * side reports through its UART and exits 0 if every message was as
 * expected, 1 otherwise. EL1, MMU off, position independent. */
#include "vmm_platform.inc"

#define ROUNDS 16
#define PING_ROUND 0
#define PING_VALUE 8
#define PONG_ROUND 16
#define PONG_VALUE 24

/* Register use: x19 ROM, x20 VM index, x21 shared frame, x22 doorbell,
 * x23 errors, x24 round i, x25 rings to wait for. */
    .text
    .global _start
_start:
    ldr x19, =ROM_BASE
    ldr x20, [x19, #BOOT_VM_INDEX]
    ldr x21, =SHARED_BASE
    ldr x22, =DOORBELL_BASE
    mov x23, #0
    mov x24, #0
    cbnz x20, ponger

pinger:
    adr x1, ping_hello
    bl puts
1:  mul x2, x24, x24
    str x2, [x21, #PING_VALUE]
    str x24, [x21, #PING_ROUND]
    dmb sy                              /* the message before the ring (x86 orders stores itself) */
    mov w2, #1
    str w2, [x22]                       /* ring the peer */
    add x25, x24, #1
2:  ldr w2, [x22]                       /* rings received */
    cmp x2, x25
    b.lo 2b
    dmb sy                              /* the ring before the answer */
    ldr x3, [x21, #PONG_ROUND]
    cmp x3, x24
    b.eq 3f
    add x23, x23, #1
3:  mul x2, x24, x24
    add x2, x2, #1
    ldr x3, [x21, #PONG_VALUE]
    cmp x3, x2
    b.eq 4f
    add x23, x23, #1
4:  add x24, x24, #1
    cmp x24, #ROUNDS
    b.lo 1b
    b report

ponger:
    adr x1, pong_hello
    bl puts
5:  add x25, x24, #1
6:  ldr w2, [x22]
    cmp x2, x25
    b.lo 6b
    dmb sy
    ldr x3, [x21, #PING_ROUND]
    cmp x3, x24
    b.eq 7f
    add x23, x23, #1
7:  ldr x3, [x21, #PING_VALUE]
    mul x2, x24, x24
    cmp x3, x2
    b.eq 8f
    add x23, x23, #1
8:  add x3, x3, #1
    str x3, [x21, #PONG_VALUE]
    str x24, [x21, #PONG_ROUND]
    dmb sy
    mov w2, #1
    str w2, [x22]
    add x24, x24, #1
    cmp x24, #ROUNDS
    b.lo 5b

report:
    adr x1, rounds_msg
    bl puts
    mov x0, x24
    bl puthex
    adr x1, errors_msg
    bl puts
    mov x0, x23
    bl puthex
    adr x1, newline
    bl puts
    cmp x23, #0
    cset w0, ne
    b exit

#include "uart.inc"

ping_hello: .asciz "pingpong: vm0 pings\n"
pong_hello: .asciz "pingpong: vm1 answers\n"
rounds_msg: .asciz "pingpong: rounds "
errors_msg: .asciz ", errors "
newline:    .asciz "\n"
