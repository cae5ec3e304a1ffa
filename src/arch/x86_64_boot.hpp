// SPDX-License-Identifier: BSD-2-Clause
// The x86-64 boot state: long mode on identity-mapping tables, or real mode.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "guestmem/boot.hpp"
#include "guestmem/error.hpp"
#include "guestmem/registers.hpp"
#include "guestmem/system_state.hpp"
#include "guestmem/types.hpp"

namespace guestmem {
class Vcpu;
}

namespace guestmem::arch {

/// Where each long-mode boot structure goes in a block at `base`: page 0 holds
/// the GDT (null, 64-bit code 0x08, data 0x10, TSS 0x18) and the TSS, page 1
/// the PML4, page 2 the PDPT and the pages after it one page directory per GiB.
struct X86BootTables {
    GuestAddr base = 0;                 ///< first byte (page aligned)
    std::uint64_t bytes = 0;            ///< bytes used from base
    GuestAddr gdt = 0;                  ///< the GDT
    GuestAddr tss = 0;                  ///< the TSS
    GuestAddr pml4 = 0;                 ///< CR3
    std::uint64_t identity_mapped = 0;  ///< guest-virtual == guest-physical for [0, identity_mapped)
};

/// The layout of the tables at `base` for `identity_bytes` (no checks).
X86BootTables x86_tables_layout(GuestAddr base, std::uint64_t identity_bytes);

/// Errc::invalid_argument unless `base` is page aligned, `identity_bytes` a
/// multiple of 1 GiB in [1 GiB, 512 GiB] and the block fits the address space.
Result<void> check_x86_tables(GuestAddr base, std::uint64_t identity_bytes);

/// The bytes of the block `layout` describes (pure: no guest needed).
std::vector<std::byte> build_x86_tables(const X86BootTables& layout);

/// 64-bit long mode, paging on `tables`, interrupts off, no IDT (an exception
/// becomes a triple fault, which the backend reports).
X86SystemState x86_long_mode_state(const X86BootTables& tables);
/// 16-bit real mode with every segment register = `segment`.
X86SystemState x86_real_mode_state(std::uint16_t segment);

/// General registers: zero except rip, rsp, the arguments (rdi, rsi, rdx, rcx)
/// and rflags (bit 1 set, IF clear).
X86Registers x86_boot_registers(GuestAddr rip, GuestAddr rsp, const std::array<std::uint64_t, 4>& args);

/// Vcpu::boot for an x86-64 vCPU: checks `spec`, writes the tables (long
/// mode) with WriteRights::guest, then sets system state and registers.
Result<void> boot_x86_64(Vcpu& vcpu, const BootSpec& spec);

}  // namespace guestmem::arch
