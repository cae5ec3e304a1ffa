// SPDX-License-Identifier: BSD-2-Clause
/// @file
/// A guest's boot state: where it starts, on which stack, with which arguments.
#pragma once

#include <guestmem/export.h>

#include <array>
#include <cstdint>

#include "guestmem/types.hpp"

namespace guestmem {

/// How Vcpu::boot() starts a guest. The architecture layer turns it into
/// registers and system state, the same way for every backend:
/// - x86-64: 64-bit long mode at `entry`, paging on identity-mapping tables it
///   writes at `x86_tables`, interrupts off, no IDT; args in rdi, rsi, rdx, rcx.
///   With `x86_real_mode`, 16-bit real mode instead: CS = DS = ES = SS =
///   entry >> 4, IP = 0, SP = stack, args in DI, SI, DX, CX (no tables).
/// - AArch64: EL1h, MMU off (guest-physical addresses are identity), D, A, I,
///   F masked, PC = entry, SP = stack, args in x0 to x3.
struct BootSpec {
    GuestAddr entry = 0;                  ///< first instruction
    GuestAddr stack = 0;                  ///< initial stack pointer
    std::array<std::uint64_t, 4> args{};  ///< first four argument registers
    /// x86-64 long mode: page-aligned writable guest RAM for the GDT, TSS and
    /// page tables (x86_boot_tables_size(identity_bytes) bytes). One set of
    /// tables serves every vCPU of a VM; boot() writes them each time (the
    /// same bytes), so boot every vCPU before any of them runs.
    GuestAddr x86_tables = 0;
    /// x86-64 long mode: bytes identity mapped from 0 (a multiple of 1 GiB,
    /// at most 512 GiB).
    std::uint64_t identity_bytes = std::uint64_t{4} << 30;
    /// x86 only: start in 16-bit real mode (entry 16-byte aligned, below 1 MiB).
    bool x86_real_mode = false;
};

/// Bytes of guest RAM the x86-64 boot tables take for `identity_bytes`.
GUESTMEM_API std::uint64_t x86_boot_tables_size(std::uint64_t identity_bytes);

}  // namespace guestmem
