/* SPDX-License-Identifier: BSD-2-Clause */
// One guest access, then wfi. x0: address, x1: value to store,
// x2: operation (0-3 store 1/2/4/8 bytes, 4-7 load 1/2/4/8 bytes into x3).
    .text
    .globl _start
_start:
    cmp x2, #0
    b.eq store1
    cmp x2, #1
    b.eq store2
    cmp x2, #2
    b.eq store4
    cmp x2, #3
    b.eq store8
    cmp x2, #4
    b.eq load1
    cmp x2, #5
    b.eq load2
    cmp x2, #6
    b.eq load4
    b load8
store1: strb w1, [x0]
    wfi
store2: strh w1, [x0]
    wfi
store4: str w1, [x0]
    wfi
store8: str x1, [x0]
    wfi
load1: ldrb w3, [x0]
    wfi
load2: ldrh w3, [x0]
    wfi
load4: ldr w3, [x0]
    wfi
load8: ldr x3, [x0]
    wfi
