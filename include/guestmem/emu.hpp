// SPDX-License-Identifier: BSD-2-Clause
/// @file
/// guestmem on a CPU emulator (Unicorn 2): x86-64 and AArch64 guests on any Linux host.
///
/// A Vm on the emulator backend runs guest code in one Unicorn engine per
/// vCPU. Mapped frames become emulator memory the guest reads and writes
/// directly (one emulator region per mapped run-set of a reservation, the
/// frames placed side by side in one host window of the library's memfd);
/// every other access reaches Vm::dispatch on the vCPU's thread with the same
/// meaning as on the other backends (handled, unhandled, restart, ignore,
/// error).
///
/// How guests run:
/// - x86-64 runs in 64-bit long mode with paging off: guest-virtual addresses
///   are guest-physical. set_system_state() accepts the long-mode state
///   Vcpu::boot writes (CR0.PE, EFER.LME, a 64-bit CS) and records it; the
///   control registers are not loaded into the engine. Real and protected
///   mode give Errc::unsupported.
/// - AArch64 runs at EL1 with the MMU off.
/// - x86 `hlt` and AArch64 `wfi` end a run with StopReason::halted, except
///   x86 `hlt` with RFLAGS.IF=1 in a VM with an interrupt controller (below).
/// - Interrupts (x86-64 only; Vm::create_default_irq_controller refuses
///   AArch64 emu VMs): the controller's creation reserves a local APIC page
///   per vCPU at 0xfee00000 (xAPIC: ID, version, TPR, PPR, EOI, SVR,
///   ISR/IRR, LVT, timer at 1 GHz before its divider, one-shot or periodic)
///   and an I/O APIC at 0xfec00000 (24 redirection entries); it fails if a
///   reservation is there. Line n of the InterruptController is I/O APIC pin
///   n (n < 24; higher lines are never delivered); the pin's entry gives the
///   vector, a masked pin waits. An interrupt is delivered at an instruction
///   boundary when IF=1 (not right after `sti`), the APIC is software
///   enabled and its priority class is above the TPR and the vectors in
///   service: through the guest's 64-bit IDT (interrupt or trap gate, no
///   IST), at the current privilege level. `hlt` with IF=1 sleeps until an
///   interrupt is deliverable (a stop request ends the run at the `hlt`). The
///   local APIC's EOI ends the line (its ack handler runs on the vCPU's
///   thread). A guest that cannot take an interrupt (no IDT, a gate not
///   present) stops with StopReason::exception. `iretq` reloads CS and SS
///   from the guest's GDT, so a guest loads its own first (as on KVM).
/// - CPU exceptions (x86 `int`, `int3`, faults; AArch64 `brk`, `svc`, `hlt`,
///   `smc`), invalid instructions and code fetched from memory that is not
///   mapped RAM end a run with StopReason::exception and a message naming the
///   exception (a fetch from a reservation whose mapping is deferred maps it
///   and goes on). The emulated AArch64 CPU has no EL2: `hvc` is an undefined
///   instruction, as on such hardware.
/// - x86 `in` and `out` go to the port I/O handler (VcpuBackend::set_port_io_handler).
///
/// Limits of this backend (what guest code sees differs from KVM here):
/// - An 8-byte access to emulated memory reaches the fault handler as two
///   4-byte accesses, low half first. An unaligned read of 2 or 4 bytes
///   reaches it as two reads of that size, each aligned to it, covering the
///   bytes (over-reads: a device with read side effects sees bytes the guest
///   did not ask for); an unaligned write arrives as one 1-byte write per byte.
/// - A write to a read-only frame reaches the fault handler once, with its
///   address, size and value; the frame is not changed (the emulator reports
///   unaligned ones twice; the backend delivers the first report only).
/// - An access that ends in an error (FaultResult::error, an unhandled
///   access without a callback, a restart without progress) stops the run at
///   once: no later instruction runs, and the rest of that access (the high
///   half of an 8-byte one) reaches no handler. The run reports the failed
///   instruction's address (Fault::ip(), RunResult::fault->ip, RunResult::ip).
///   As on KVM, the next run completes the failed instruction's emulated
///   accesses as ignored (a write dropped, a read 0, no handler called) and
///   goes on after it, unless set_registers() moved the vCPU meanwhile.
///   The parts of an instruction's accesses performed before the failed one
///   stay performed.
/// - request_stop() or Vcpu::request_exit() from a fault handler of the
///   vCPU itself lets the instruction being handled complete; the run ends
///   before the next one, and the next run continues after it.
/// - Stopping exactly at an instruction has a cost on every one. x86-64
///   hooks every instruction: a call into the backend per guest
///   instruction (the emulator computes x86 flags lazily and stores them,
///   and the program counter, at every instruction only when instructions
///   are hooked); a loop of guest RAM accesses (the guest suites' access
///   script) ran about half as fast with it (about 450 ns per pass instead
///   of 240 ns on the development machine). AArch64 hooks every store
///   instead: a call per guest store (the emulator then stores the program
///   counter before every load and store), and every guest RAM access takes
///   the emulator's slow path. There, a stop a handler asks for, and the
///   completion of a failed access, run the instruction again by itself,
///   its accesses answered as the first time (a handler sees each access
///   once). A `dc zva` (a store the emulator does not count among the load
///   and store instructions) that fails on emulated memory stops with the
///   program counter of the last load or store before it, where the next
///   run then starts.
/// - The emulator translates guest code and cannot see the VMM write guest
///   RAM: code the VMM writes (an image it loads) is seen from the next
///   run(), which drops the translations of the RAM code ran from;
///   code the VMM changes while a vCPU runs may not be seen by that run.
/// - Guest atomic instructions are atomic within one engine only: two vCPUs
///   doing atomics on the same RAM are not atomic against each other.
/// - Regions: the emulator aborts the process past about 4,095 regions (x86)
///   or 1,023 (AArch64). Each mapped run-set of a reservation takes one
///   region per stretch of equal rights, and the backend keeps
///   Options::mmio_pages regions for emulated pages; an install that would
///   pass Options::max_regions fails with Errc::out_of_memory. Unicorn's
///   time to map grows with the regions it holds: about a second for the
///   first thousand, minutes for four thousand.
/// - Emulated memory is mapped in pages (4 KiB x86, 1 KiB AArch64) on first
///   access; several reservations may share a page (accesses are dispatched
///   by absolute address).
/// - The core's doorbells and write posting take their slow path here
///   (synchronous dispatch on the vCPU's thread).
///
/// Thread safety:
/// - The backend is used by its Vm, which serialises install/uninstall/
///   create_vcpu; they may run while vCPU threads run guests. Map changes are
///   applied by each vCPU on its own thread (at its next translated block or
///   run); uninstall returns only once every running vCPU has applied it, so
///   once a free returns no guest access reaches the freed frames.
/// - A vCPU's engine is made on first use. run(), the register functions and
///   set_port_io_handler must not overlap on one vCPU (run() refuses an
///   overlapping run with Errc::invalid_argument); they may come from
///   different threads one after another. request_stop() is for any thread at
///   any time (it sets a flag the vCPU's own thread acts on at its next
///   translated block; from a fault handler of the vCPU itself the run stops
///   once the current instruction has completed).
/// - A vCPU inside a fault handler does not hold up an uninstall: it applies
///   the removal when the handler returns, before guest code goes on.
#pragma once

#include <guestmem/export.h>

#include <cstddef>
#include <memory>

#include "guestmem/arch.hpp"
#include "guestmem/backend.hpp"
#include "guestmem/error.hpp"

/// The CPU-emulator backend (VM_BACKEND_EMU): Unicorn engines, one per vCPU.
namespace guestmem::emu {

/// Options of an emulator backend.
struct Options {
    /// Emulator regions each engine may hold: 0 means the architecture's
    /// safe default (4,000 for x86-64, 1,000 for AArch64, under the limits
    /// where the emulator aborts). A small number lets tests reach the limit.
    std::size_t max_regions = 0;
    /// Of those, regions kept for pages of emulated memory (devices and
    /// unmapped addresses), mapped on first access; when they run out, every
    /// such page is dropped and mapped again on its next access. 0 means a
    /// quarter of max_regions, at most 64.
    std::size_t mmio_pages = 0;
};

/// Success when this build has the emulator and it runs `arch` guests;
/// Errc::unsupported (with the reason) otherwise. Thread safe.
GUESTMEM_API Result<void> usable(Arch arch);

/// An emulator backend for a Vm whose vCPUs run `arch` code:
/// `Vm vm(std::move(*emu::create_backend(Arch::aarch64)), caps)`.
/// Errc::unsupported when the emulator cannot run `arch`. Thread safe.
GUESTMEM_API Result<std::unique_ptr<Backend>> create_backend(Arch arch);
/// The same with `options`; Errc::invalid_argument when mmio_pages is not
/// below max_regions.
GUESTMEM_API Result<std::unique_ptr<Backend>> create_backend(Arch arch, const Options& options);

}  // namespace guestmem::emu
