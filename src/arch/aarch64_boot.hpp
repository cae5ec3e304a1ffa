// SPDX-License-Identifier: BSD-2-Clause
// The AArch64 boot state: EL1h, MMU off, interrupts masked.
#pragma once

#include "guestmem/boot.hpp"
#include "guestmem/error.hpp"
#include "guestmem/registers.hpp"
#include "guestmem/system_state.hpp"

namespace guestmem {
class Vcpu;
}

namespace guestmem::arch {

/// PSTATE (SPSR layout) of EL1 using SP_EL1 (EL1h) with D, A, I and F masked.
inline constexpr std::uint64_t kArm64BootPstate = 0x3c5;

/// Errc::invalid_argument unless the entry is 4-byte aligned (A64
/// instructions), the stack 16-byte aligned (SP alignment checking) and no
/// x86-only option is set.
Result<void> check_aarch64_boot(const BootSpec& spec);

/// PC = entry, SP = stack, x0..x3 = args, every other register 0, EL1h, DAIF masked.
Arm64Registers aarch64_boot_registers(const BootSpec& spec);
/// SCTLR_EL1 at its reset value (MMU and caches off), no vectors, TPIDR_EL1 0.
Arm64SystemState aarch64_boot_system_state();

/// Vcpu::boot for an AArch64 vCPU: checks `spec`, then sets system state and registers.
Result<void> boot_aarch64(Vcpu& vcpu, const BootSpec& spec);

}  // namespace guestmem::arch
