/* SPDX-License-Identifier: BSD-2-Clause */
// Routes pin rsi to vector 0x40 and waits with IF=1 for rdx interrupts,
// then spins a while more (for late deliveries), cli, hlt. rax = count.
#include "irq_common.inc"
    .code64
    .text
    .globl _start
_start:
    irq_setup
    lapic_enable
    ioapic_route %r14, 0x40
    sti
    wait_for_r13
    spin 200000
    cli
    mov 0x00(%r15), %rax
    hlt
    irq_handler
