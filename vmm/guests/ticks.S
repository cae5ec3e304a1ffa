/* SPDX-License-Identifier: BSD-2-Clause */
/* ticks (x86-64): takes TICKS interrupts of the local APIC timer, sleeping
 * in HLT between them, prints how many it handled through the UART and exits
 * with status 0. Installs its own GDT (IRETQ reloads CS and SS from it) and
 * an IDT whose only gate is the timer's vector, software-enables the local
 * APIC, and programs its timer periodic (1 ms at the 1 GHz APIC clock KVM's
 * and the emu backend's local APICs count, divide by 1). Each interrupt is
 * ended with an EOI. Needs a VM with an interrupt controller (guestmem-vmm
 * creates one for this guest). Long mode, position independent. */
#include "vmm_platform.inc"

#define LAPIC 0xfee00000
#define LAPIC_EOI 0xb0
#define LAPIC_SVR 0xf0
#define LAPIC_LVT_TIMER 0x320
#define LAPIC_TIMER_INITIAL 0x380
#define LAPIC_TIMER_DIVIDE 0x3e0
#define TIMER_VECTOR 0x40
#define TIMER_PERIODIC (1 << 17)
#define TIMER_COUNT 1000000
#define TICKS 10

    .intel_syntax noprefix
    .code64
    .text
    .global _start
_start:
    cli
    /* GDT: null, 64-bit code (0x08), data (0x10) */
    lea rax, [rip + gdt]
    mov [rip + gdtr + 2], rax
    lgdt [rip + gdtr]
    lea rax, [rip + 1f]
    push 0x08
    push rax
    retfq
1:  mov ax, 0x10
    mov ss, ax

    /* IDT: one 64-bit interrupt gate, at TIMER_VECTOR, to tick */
    lea rax, [rip + tick]
    lea rdi, [rip + idt + TIMER_VECTOR * 16]
    mov word ptr [rdi], ax              /* offset 15:0 */
    mov word ptr [rdi + 2], 0x08        /* selector */
    mov word ptr [rdi + 4], 0x8e00      /* present, DPL 0, interrupt gate */
    shr rax, 16
    mov word ptr [rdi + 6], ax          /* offset 31:16 */
    shr rax, 16
    mov dword ptr [rdi + 8], eax        /* offset 63:32 */
    lea rax, [rip + idt]
    mov [rip + idtr + 2], rax
    lidt [rip + idtr]

    /* The local APIC: software enable, then the timer */
    mov rbx, LAPIC
    mov dword ptr [rbx + LAPIC_SVR], 0x1ff
    mov dword ptr [rbx + LAPIC_TIMER_DIVIDE], 0xb
    mov dword ptr [rbx + LAPIC_LVT_TIMER], TIMER_VECTOR | TIMER_PERIODIC
    mov dword ptr [rbx + LAPIC_TIMER_INITIAL], TIMER_COUNT

2:  sti
    hlt                                 /* sleeps until the next tick */
    cmp qword ptr [rip + count], TICKS
    jb 2b
    cli
    mov dword ptr [rbx + LAPIC_TIMER_INITIAL], 0   /* stops the timer */

    lea rsi, [rip + said]
    call puts
    mov rax, [rip + count]              /* two decimal digits */
    xor edx, edx
    mov ecx, 10
    div rcx
    test eax, eax
    jz 3f
    push rdx
    lea edi, [rax + '0']
    call putc
    pop rdx
3:  lea edi, [rdx + '0']
    call putc
    lea rsi, [rip + handled]
    call puts
    xor edi, edi
    jmp exit

/* The timer's interrupt: count it, end it. */
tick:
    push rax
    inc qword ptr [rip + count]
    mov rax, LAPIC
    mov dword ptr [rax + LAPIC_EOI], 0
    pop rax
    iretq

#include "uart.inc"

said:    .asciz "ticks: "
handled: .asciz " interrupts handled\n"

    .balign 8
count:  .quad 0
gdt:    .quad 0, 0x00af9a000000ffff, 0x00cf92000000ffff
gdtr:   .word 23
        .quad 0
    .balign 16
idt:    .fill (TIMER_VECTOR + 1) * 16, 1, 0
idtr:   .word (TIMER_VECTOR + 1) * 16 - 1
        .quad 0
