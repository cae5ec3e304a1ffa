/* SPDX-License-Identifier: BSD-2-Clause */
// A hypervisor call.
    .text
    .globl _start
_start:
    hvc #0
    wfi
