/* SPDX-License-Identifier: BSD-2-Clause */
// The LAPIC timer periodic at vector 0x50, divide by 1, initial count rsi;
// sleeps in "sti; hlt" until rdx interrupts were handled; stops the timer,
// records its current count at 0x08; cli, hlt. rax = count.
#include "irq_common.inc"
    .code64
    .text
    .globl _start
_start:
    irq_setup
    lapic_enable
    mov $LAPIC, %eax
    movl $0xb, 0x3e0(%rax)              // divide by 1
    movl $(0x50 | (1 << 17)), 0x320(%rax)  // LVT timer: vector 0x50, periodic
    movl %r14d, 0x380(%rax)             // initial count: starts it
1:  sti
    hlt
    cmp %r13, 0x00(%r15)
    jb 1b
    cli
    mov $LAPIC, %eax
    movl $0, 0x380(%rax)
    movl 0x390(%rax), %ecx
    mov %rcx, 0x08(%r15)
    mov 0x00(%r15), %rax
    hlt
    irq_handler
