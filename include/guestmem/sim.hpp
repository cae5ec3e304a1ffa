// SPDX-License-Identifier: BSD-2-Clause
/// @file
/// The hypervisor-free backend: guest accesses performed by the caller.
#pragma once

#include <guestmem/export.h>

#include <cstddef>
#include <cstdint>
#include <memory>

#include "guestmem/arch.hpp"
#include "guestmem/backend.hpp"
#include "guestmem/error.hpp"
#include "guestmem/interrupts.hpp"
#include "guestmem/port_io.hpp"
#include "guestmem/vcpu.hpp"

/// The hypervisor-free backend (VM_BACKEND_SIM): guest accesses performed by the caller.
namespace guestmem::sim {

/// Each completed access advances a sim vCPU's instruction pointer by this
/// much, standing in for one instruction, so that tests can see the vCPU
/// advance exactly once per access.
inline constexpr GuestAddr kInstructionBytes = 4;

/// A backend with no hypervisor (like QEMU's qtest accelerator): device
/// models and VMM logic are driven by read()/write() below. Its vCPUs keep a
/// register file and system state of `arch` (Vcpu::registers, Vcpu::boot
/// work; Vcpu::run fails with Errc::unsupported). Never fails.
GUESTMEM_API std::unique_ptr<Backend> create_backend(Arch arch = host_arch());

/// Performs a guest read of `size` bytes (1, 2, 4, 8) at `addr` as `vcpu`.
/// Errc::fault_error (message: address, size, direction, ip, reason) if the
/// access ended in an error; Errc::unsupported if the vCPU is not a sim vCPU.
GUESTMEM_API Result<std::uint64_t> read(Vcpu& vcpu, GuestAddr addr, std::size_t size);
/// Performs a guest write of the low `size` bytes of `value`.
GUESTMEM_API Result<void> write(Vcpu& vcpu, GuestAddr addr, std::size_t size, std::uint64_t value);

/// Acts as the guest taking an interrupt (as QEMU's qtest drives interrupt
/// lines): the lowest pending line of `vcpu` goes from pending to in service
/// (guestmem/interrupts.hpp). Any thread.
/// Errors: Errc::unsupported (not a sim VM), Errc::not_initialized (no
/// interrupt controller), Errc::invalid_argument (nothing pending).
GUESTMEM_API Result<IrqNumber> take_interrupt(Vcpu& vcpu);
/// Acts as the guest's end-of-interrupt for `irq` on `vcpu`: the line's
/// acknowledge handler runs on this thread; a level line still high is
/// pending again. Errors: as take_interrupt, and Errc::invalid_argument for a
/// line not in service on `vcpu`.
GUESTMEM_API Result<void> end_of_interrupt(Vcpu& vcpu, IrqNumber irq);
/// Performs one x86 port access as `vcpu` (an IN or OUT of access.size
/// bytes: 1, 2 or 4) through the handler set with Vcpu::set_port_io_handler,
/// on the calling thread, as the emu and KVM backends do for a guest's IN or
/// OUT. PortResult::handled: for an IN, access.data becomes the value read,
/// cut to its size; PortResult::ignore: an IN reads 0. A completed access
/// advances the instruction pointer by kInstructionBytes. Errors:
/// Errc::fault_error (the message names port, size and direction) when the
/// vCPU has no handler or the handler returned PortResult::error;
/// Errc::invalid_argument for a size other than 1, 2 or 4; Errc::unsupported
/// for a vCPU that is not a sim vCPU, or is one of AArch64 (no port I/O).
GUESTMEM_API Result<void> port_access(Vcpu& vcpu, PortAccess& access);

/// The sim vCPU's instruction pointer, rip or pc of its register file
/// (Errc::unsupported for other vCPUs).
GUESTMEM_API Result<GuestAddr> instruction_pointer(const Vcpu& vcpu);
/// Sets the sim vCPU's instruction pointer (Errc::unsupported for other vCPUs).
GUESTMEM_API Result<void> set_instruction_pointer(Vcpu& vcpu, GuestAddr ip);

}  // namespace guestmem::sim
