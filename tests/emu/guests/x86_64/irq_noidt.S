/* SPDX-License-Identifier: BSD-2-Clause */
// No IDT: enables the APIC, routes pin rsi to vector 0x40, sti, spins forever.
#include "irq_common.inc"
    .code64
    .text
    .globl _start
_start:
    mov %rsi, %r14
    lapic_enable
    ioapic_route %r14, 0x40
    sti
1:  jmp 1b
