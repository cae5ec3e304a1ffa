/* SPDX-License-Identifier: BSD-2-Clause */
// Pin rsi masked at vector 0x40, IF=1: spins, records the count at 0x08;
// then unmasks it and waits for rdx interrupts; cli, hlt. rax = count.
#include "irq_common.inc"
    .code64
    .text
    .globl _start
_start:
    irq_setup
    lapic_enable
    ioapic_route %r14, 0x40, 1
    sti
    spin 200000
    mov 0x00(%r15), %rax
    mov %rax, 0x08(%r15)
    ioapic_route %r14, 0x40, 0
    wait_for_r13
    cli
    mov 0x00(%r15), %rax
    hlt
    irq_handler
