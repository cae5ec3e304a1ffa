/* SPDX-License-Identifier: BSD-2-Clause */
// Pin rsi at vector 0x40, IF=1; writes 1 to the device at rdx (whose fault
// handler injects), then waits for one interrupt; cli, hlt. rax = count.
#include "irq_common.inc"
    .code64
    .text
    .globl _start
_start:
    irq_setup
    lapic_enable
    ioapic_route %r14, 0x40
    sti
    movl $1, (%r13)
    mov $1, %r13
    wait_for_r13
    cli
    mov 0x00(%r15), %rax
    hlt
    irq_handler
