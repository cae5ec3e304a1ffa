// A breakpoint.
    .text
    .globl _start
_start:
    nop
    brk #0x42
    wfi
