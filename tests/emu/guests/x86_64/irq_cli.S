/* SPDX-License-Identifier: BSD-2-Clause */
// Pin rsi at vector 0x40 with IF=0: spins, records the count at 0x08; then
// sti and waits for rdx interrupts; cli, hlt. rax = count.
#include "irq_common.inc"
    .code64
    .text
    .globl _start
_start:
    cli
    irq_setup
    lapic_enable
    ioapic_route %r14, 0x40
    spin 200000
    mov 0x00(%r15), %rax
    mov %rax, 0x08(%r15)
    sti
    wait_for_r13
    cli
    mov 0x00(%r15), %rax
    hlt
    irq_handler
