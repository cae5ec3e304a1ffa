/* SPDX-License-Identifier: BSD-2-Clause */
/* A guest that misbehaves on purpose, to check that runs report it cleanly.
 *   rdi: CRASH_UD2  - execute an invalid instruction (no IDT: triple fault)
 *        CRASH_JUMP - jump to the address in rsi (e.g. emulated memory)
 */
#include "guest_abi.h"

    .code64
    .text
    .globl _start
_start:
    cmp $CRASH_JUMP, %rdi
    je jump
    .globl insn_ud2
insn_ud2:
    ud2
jump:
    jmp *%rsi
