// SPDX-License-Identifier: BSD-2-Clause
// Registers and system state of an engine, in guestmem's architecture-neutral types.
#pragma once

#include "engine.hpp"
#include "guestmem/registers.hpp"
#include "guestmem/system_state.hpp"

namespace guestmem::emu {

/// The general registers of `uc` (an `arch` engine). Errc::backend_error.
Result<Registers> read_registers(uc_engine* uc, Arch arch);
/// Writes them (the alternative must match the engine). Errc::backend_error.
Result<void> write_registers(uc_engine* uc, const Registers& registers);

/// The program counter (rip or pc); 0 if the engine cannot say.
GuestAddr read_pc(uc_engine* uc, Arch arch);
/// Sets it.
void write_pc(uc_engine* uc, Arch arch, GuestAddr pc);

/// AArch64 SCTLR_EL1, VBAR_EL1 and TPIDR_EL1. Errc::backend_error.
Result<Arm64SystemState> read_arm64_system_state(uc_engine* uc);
/// Writes them. Errc::unsupported for SCTLR_EL1 with the MMU on (the
/// backend runs guests with guest-physical addresses); Errc::backend_error.
Result<void> write_arm64_system_state(uc_engine* uc, const Arm64SystemState& state);

/// Errc::unsupported unless `state` is 64-bit long mode (CR0.PE, EFER.LME
/// or LMA, a present 64-bit code segment): the engine runs long mode only.
Result<void> check_x86_long_mode(const X86SystemState& state);

}  // namespace guestmem::emu
