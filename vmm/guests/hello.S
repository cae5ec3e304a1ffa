/* SPDX-License-Identifier: BSD-2-Clause */
/* hello: prints a greeting and what the boot ROM says through the UART,
 * then exits with status 0. Long mode, position independent. */
#include "vmm_platform.inc"

    .intel_syntax noprefix
    .code64
    .text
    .global _start
_start:
    lea rsi, [rip + greeting]
    call puts

    /* The boot information in the read-only ROM */
    mov rbx, ROM_BASE
    mov rax, [rbx + BOOT_MAGIC]
    mov rcx, 0x4d454d5453455547          /* "GUESTMEM", little-endian */
    cmp rax, rcx
    jne bad_rom
    lea rsi, [rip + ram_is]
    call puts
    mov rdi, [rbx + BOOT_RAM_SIZE]
    call puthex
    lea rsi, [rip + bytes]
    call puts

    /* A write to the ROM faults into the VMM, which drops it */
    mov qword ptr [rbx + BOOT_MAGIC], 0
    mov rax, [rbx + BOOT_MAGIC]
    cmp rax, rcx
    jne bad_rom
    lea rsi, [rip + rom_ok]
    call puts

    lea rsi, [rip + goodbye]
    call puts
    xor edi, edi
    jmp exit

bad_rom:
    lea rsi, [rip + rom_bad]
    call puts
    mov edi, 1
    jmp exit

#include "uart.inc"

greeting: .asciz "Hello from a guest running on guestmem!\n"
ram_is:   .asciz "The boot ROM says RAM is "
bytes:    .asciz " bytes.\n"
rom_ok:   .asciz "Writing the ROM was refused: it still says GUESTMEM.\n"
rom_bad:  .asciz "The boot ROM is not what it should be!\n"
goodbye:  .asciz "Goodbye.\n"
