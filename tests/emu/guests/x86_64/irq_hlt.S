/* SPDX-License-Identifier: BSD-2-Clause */
// Pin rsi at vector 0x40; sleeps in "sti; hlt" until rdx interrupts were
// handled; cli, hlt. rax = count.
#include "irq_common.inc"
    .code64
    .text
    .globl _start
_start:
    irq_setup
    lapic_enable
    ioapic_route %r14, 0x40
1:  sti
    hlt
    cmp %r13, 0x00(%r15)
    jb 1b
    cli
    mov 0x00(%r15), %rax
    hlt
    irq_handler
