/* SPDX-License-Identifier: BSD-2-Clause */
// A device store with RAM work after it in the same translated block.
// x0: device address, x1: value to store, x2: RAM address.
// x3 is 1 before the store, 2 once the instructions after it ran.
    .text
    .globl _start
_start:
    mov x3, #1
    .globl store
store:
    str w1, [x0]
    mov x3, #2
    str x3, [x2]
    wfi
