// The x86 CPU state a guest starts in: real mode, or long mode with boot tables.
#pragma once

#include <linux/kvm.h>

#include <cstddef>
#include <cstdint>
#include <vector>

#include "guestmem/error.hpp"
#include "guestmem/kvm.hpp"

namespace guestmem::kvm {

/// Where each boot structure goes in a block at `base` (see write_boot_tables):
/// page 0 holds the GDT and the TSS, page 1 the PML4, page 2 the PDPT and the
/// pages after it one page directory per GiB.
BootTables boot_tables_layout(GuestAddr base, std::uint64_t identity_bytes);

/// Errc::invalid_argument unless base is page aligned, identity_bytes a
/// multiple of 1 GiB in [1 GiB, 512 GiB] and the block fits the address space.
Result<void> check_boot_tables(GuestAddr base, std::uint64_t identity_bytes);

/// The bytes of the block described by boot_tables_layout (pure: no guest needed).
std::vector<std::byte> build_boot_tables(const BootTables& layout);

/// Puts `sregs` into 64-bit long mode with paging on `tables`.
void apply_long_mode(kvm_sregs& sregs, const BootTables& tables);
/// Puts `sregs` into 16-bit real mode with every segment register = `segment`.
void apply_real_mode(kvm_sregs& sregs, std::uint16_t segment);

/// General registers: zero except the arguments, RIP, RSP and RFLAGS (bit 1 set, IF clear).
kvm_regs initial_registers(GuestAddr rip, GuestAddr rsp, const GuestArgs& args);

}  // namespace guestmem::kvm
