/* SPDX-License-Identifier: BSD-2-Clause */
/* Performs a script of guest accesses (see guest_abi.h), the same accesses a
 * sim-backend test drives with Vm::dispatch, so one device model can be
 * checked on both backends.
 *   rdi: the script's guest address
 *   rsi: how many times to perform the whole script (0 means once)
 * At HLT: rax = ops performed, or SCRIPT_BAD_OP.
 * Each access is one instruction; its address (insn_*) and, for writes, the
 * address after it (after_write_*) are exported so that tests can check the
 * instruction pointer a fault reports.
 */
#include "guest_abi.h"

    .code64
    .text
    .globl _start
_start:
    xor %eax, %eax
    test %rsi, %rsi
    jnz pass
    mov $1, %esi
pass:
    mov %rdi, %rbx
next_op:
    mov SCRIPT_OP_KIND(%rbx), %ecx
    test %ecx, %ecx
    jz end_pass
    mov SCRIPT_OP_ADDR(%rbx), %r8
    mov SCRIPT_OP_SIZE(%rbx), %edx
    cmp $SCRIPT_READ, %ecx
    je do_read
    cmp $SCRIPT_WRITE, %ecx
    jne bad_op

do_write:
    mov SCRIPT_OP_VALUE(%rbx), %r9
    cmp $1, %edx
    je w1
    cmp $2, %edx
    je w2
    cmp $4, %edx
    je w4
    cmp $8, %edx
    je w8
    jmp bad_op
w1:
    .globl insn_write_1
insn_write_1:
    movb %r9b, (%r8)
    .globl after_write_1
after_write_1:
    jmp op_done
w2:
    .globl insn_write_2
insn_write_2:
    movw %r9w, (%r8)
    .globl after_write_2
after_write_2:
    jmp op_done
w4:
    .globl insn_write_4
insn_write_4:
    movl %r9d, (%r8)
    .globl after_write_4
after_write_4:
    jmp op_done
w8:
    .globl insn_write_8
insn_write_8:
    movq %r9, (%r8)
    .globl after_write_8
after_write_8:
    jmp op_done

do_read:
    cmp $1, %edx
    je r1
    cmp $2, %edx
    je r2
    cmp $4, %edx
    je r4
    cmp $8, %edx
    je r8
    jmp bad_op
r1:
    .globl insn_read_1
insn_read_1:
    movzbl (%r8), %r9d
    jmp store
r2:
    .globl insn_read_2
insn_read_2:
    movzwl (%r8), %r9d
    jmp store
r4:
    .globl insn_read_4
insn_read_4:
    movl (%r8), %r9d
    jmp store
r8:
    .globl insn_read_8
insn_read_8:
    movq (%r8), %r9
store:
    mov %r9, SCRIPT_OP_VALUE(%rbx)

op_done:
    inc %rax
    add $SCRIPT_OP_BYTES, %rbx
    jmp next_op

end_pass:
    dec %rsi
    jnz pass
    .globl done
done:
    hlt
    jmp done

bad_op:
    mov $SCRIPT_BAD_OP, %eax
    jmp done
