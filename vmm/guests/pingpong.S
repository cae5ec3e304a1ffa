/* SPDX-License-Identifier: BSD-2-Clause */
/* pingpong: two VMs in one process exchange ROUNDS messages through a
 * shared frame and doorbells. VM 0 pings: it writes round i and i*i into
 * the shared frame and rings; VM 1 waits for the ring, checks the message,
 * answers i and i*i+1 and rings back. Each side reports through its UART
 * and exits 0 if every message was as expected, 1 otherwise. */
#include "vmm_platform.inc"

#define ROUNDS 16
#define PING_ROUND 0
#define PING_VALUE 8
#define PONG_ROUND 16
#define PONG_VALUE 24

    .intel_syntax noprefix
    .code64
    .text
    .global _start
_start:
    mov rbx, ROM_BASE
    mov r15, [rbx + BOOT_VM_INDEX]
    mov r12, SHARED_BASE
    mov r13, DOORBELL_BASE
    xor r14, r14                    /* errors */
    xor r9, r9                      /* round i */
    test r15, r15
    jnz ponger

pinger:
    lea rsi, [rip + ping_hello]
    call puts
1:  mov rax, r9
    imul rax, r9
    mov [r12 + PING_VALUE], rax
    mov [r12 + PING_ROUND], r9
    mov dword ptr [r13], 1          /* ring the peer */
    lea r10, [r9 + 1]
2:  mov eax, dword ptr [r13]        /* rings received */
    cmp rax, r10
    jb 2b
    cmp [r12 + PONG_ROUND], r9
    je 3f
    inc r14
3:  mov rax, r9
    imul rax, r9
    inc rax
    cmp [r12 + PONG_VALUE], rax
    je 4f
    inc r14
4:  inc r9
    cmp r9, ROUNDS
    jb 1b
    jmp report

ponger:
    lea rsi, [rip + pong_hello]
    call puts
5:  lea r10, [r9 + 1]
6:  mov eax, dword ptr [r13]
    cmp rax, r10
    jb 6b
    cmp [r12 + PING_ROUND], r9
    je 7f
    inc r14
7:  mov rax, [r12 + PING_VALUE]
    mov rcx, r9
    imul rcx, r9
    cmp rax, rcx
    je 8f
    inc r14
8:  inc rax
    mov [r12 + PONG_VALUE], rax
    mov [r12 + PONG_ROUND], r9
    mov dword ptr [r13], 1
    inc r9
    cmp r9, ROUNDS
    jb 5b

report:
    lea rsi, [rip + rounds_msg]
    call puts
    mov rdi, r9
    call puthex
    lea rsi, [rip + errors_msg]
    call puts
    mov rdi, r14
    call puthex
    lea rsi, [rip + newline]
    call puts
    xor edi, edi
    test r14, r14
    setnz dil
    jmp exit

#include "uart.inc"

ping_hello: .asciz "pingpong: vm0 pings\n"
pong_hello: .asciz "pingpong: vm1 answers\n"
rounds_msg: .asciz "pingpong: rounds "
errors_msg: .asciz ", errors "
newline:    .asciz "\n"
