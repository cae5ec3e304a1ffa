/* SPDX-License-Identifier: BSD-2-Clause */
/* Two guests in two VMs exchange data through one shared page (guest_abi.h
 * PING_* / PONG_*), each waiting for the other round by round.
 *   rdi: the shared page's guest address
 *   rsi: role, 0 = pinger, 1 = ponger
 *   rdx: rounds
 * Round i: the pinger writes i*i to PING_PAYLOAD, then i to PING_WORD, and
 * waits for PONG_WORD == i; the ponger waits for PING_WORD == i, reads the
 * payload, writes payload + 1 to PONG_PAYLOAD, then i to PONG_WORD.
 * At HLT: rax = sum over rounds of the payloads received
 * (pinger: sum of i*i + 1; ponger: sum of i*i), rcx = rounds + 1.
 */
#include "guest_abi.h"

    .code64
    .text
    .globl _start
_start:
    xor %eax, %eax
    mov $1, %ecx
    test %rsi, %rsi
    jnz ponger

pinger:
    cmp %rdx, %rcx
    ja done
    mov %rcx, %r8
    imul %rcx, %r8
    mov %r8, PING_PAYLOAD(%rdi)
    mov %rcx, PING_WORD(%rdi)
1:
    pause
    cmp PONG_WORD(%rdi), %rcx
    jne 1b
    add PONG_PAYLOAD(%rdi), %rax
    inc %rcx
    jmp pinger

ponger:
    cmp %rdx, %rcx
    ja done
1:
    pause
    cmp PING_WORD(%rdi), %rcx
    jne 1b
    mov PING_PAYLOAD(%rdi), %r8
    add %r8, %rax
    inc %r8
    mov %r8, PONG_PAYLOAD(%rdi)
    mov %rcx, PONG_WORD(%rdi)
    inc %rcx
    jmp ponger

    .globl done
done:
    hlt
    jmp done
