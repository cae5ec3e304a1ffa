// SPDX-License-Identifier: BSD-2-Clause
/* Conventions shared by the guest programs (assembled with the C preprocessor)
 * and the code that runs them (tests, examples). Plain #defines only: this
 * file is read by the assembler too.
 *
 * Every program is a flat image linked at 0 and position independent, entered
 * at offset 0 with its arguments in rdi, rsi, rdx (kvm::GuestArgs), and ends
 * with HLT (looping back to HLT if run again). Results are left in registers
 * and, where a program says so, in guest RAM.
 */
#ifndef GUESTMEM_GUEST_ABI_H
#define GUESTMEM_GUEST_ABI_H

/* The port real_mode.S writes to (QEMU/Bochs debug console convention). */
#define GUEST_DEBUG_PORT 0xe9

/* access_script.S performs a script of accesses laid out in guest RAM as
 * 32-byte ops, ended by an op of kind SCRIPT_END:
 *   u32 kind   SCRIPT_READ or SCRIPT_WRITE
 *   u32 size   1, 2, 4 or 8
 *   u64 addr   guest address (identity mapped)
 *   u64 value  written for SCRIPT_WRITE; the guest stores what it read for SCRIPT_READ
 *   u64 spare
 */
#define SCRIPT_OP_BYTES 32
#define SCRIPT_OP_KIND 0
#define SCRIPT_OP_SIZE 4
#define SCRIPT_OP_ADDR 8
#define SCRIPT_OP_VALUE 16
#define SCRIPT_END 0
#define SCRIPT_READ 1
#define SCRIPT_WRITE 2
/* rax at HLT when a script op has an unknown kind or size. */
#define SCRIPT_BAD_OP 0xbad

/* ping_pong.S: two guests share one page laid out as four u64 words. */
#define PING_WORD 0     /* pinger: round number i, after PING_PAYLOAD */
#define PONG_WORD 8     /* ponger: round number i, after PONG_PAYLOAD */
#define PING_PAYLOAD 16 /* pinger: i * i */
#define PONG_PAYLOAD 24 /* ponger: the payload it read plus one */

/* crash.S modes (rdi). */
#define CRASH_UD2 0  /* an invalid instruction with no IDT: triple fault */
#define CRASH_JUMP 1 /* jump to the address in rsi (e.g. emulated memory) */

#endif
