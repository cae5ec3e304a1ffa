/* SPDX-License-Identifier: BSD-2-Clause */
/* memtest: writes a pattern to every page of RAM from 2 MiB to the end of
 * RAM (which the VMM may map lazily, chunk by chunk, on first touch), reads
 * it back, and reports through the UART. Exit status: 0 if every word
 * matched, 1 otherwise. Long mode, position independent. */
#include "vmm_platform.inc"

#define TEST_START 0x200000
#define STRIDE 256          /* one qword every 256 bytes: 16 per page */

    .intel_syntax noprefix
    .code64
    .text
    .global _start
_start:
    lea rsi, [rip + hello]
    call puts
    mov rbx, ROM_BASE
    mov r12, [rbx + BOOT_RAM_SIZE]       /* end of RAM */
    mov r13, TEST_START
    cmp r12, r13
    jbe too_small

    /* pass 1: write address ^ pattern */
    mov r8, 0x5a5aa5a5c3c33c3c
    mov rcx, r13
1:  mov rax, rcx
    xor rax, r8
    mov [rcx], rax
    add rcx, STRIDE
    cmp rcx, r12
    jb 1b

    /* pass 2: verify */
    xor r14, r14                         /* mismatches */
    mov rcx, r13
2:  mov rax, rcx
    xor rax, r8
    cmp [rcx], rax
    je 3f
    inc r14
3:  add rcx, STRIDE
    cmp rcx, r12
    jb 2b

    lea rsi, [rip + tested]
    call puts
    mov rdi, r12
    sub rdi, r13
    shr rdi, 12
    call puthex
    lea rsi, [rip + pages]
    call puts
    mov rdi, r14
    call puthex
    lea rsi, [rip + mismatches]
    call puts
    test r14, r14
    jnz failed
    lea rsi, [rip + passed]
    call puts
    xor edi, edi
    jmp exit
failed:
    lea rsi, [rip + failed_msg]
    call puts
    mov edi, 1
    jmp exit
too_small:
    lea rsi, [rip + small]
    call puts
    mov edi, 2
    jmp exit

#include "uart.inc"

hello:      .asciz "memtest: testing RAM from 0x200000 to the end of RAM\n"
tested:     .asciz "memtest: pages tested: "
pages:      .asciz ", mismatched words: "
mismatches: .asciz "\n"
passed:     .asciz "memtest: PASS\n"
failed_msg: .asciz "memtest: FAIL\n"
small:      .asciz "memtest: RAM must be larger than 2 MiB\n"
