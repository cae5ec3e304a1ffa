// SPDX-License-Identifier: BSD-2-Clause
/// @file
/// guestmem on Linux KVM: real x86-64 guests on real vCPUs.
///
/// A Vm created with BackendKind::kvm (or with kvm::create_backend()) turns its
/// address space into a KVM VM: every mapped run of frames becomes a KVM memory
/// slot (read-only runs as KVM_MEM_READONLY), so guests run at native speed in
/// mapped memory, and every access to unmapped or read-only memory arrives as an
/// MMIO exit that Vcpu::run() hands to Vm::dispatch, with the same result
/// semantics as every other backend (docs/concepts.md, "Faults and their results").
///
/// Guests are booted, run and stopped through the backend-neutral Vcpu
/// interface (guestmem/vcpu.hpp); this header holds only what is KVM's own:
///
///     auto vm = Vm::create(BackendKind::kvm, caps);   // or Vm(kvm::create_backend({.max_slots = 8}), caps)
///     ... reserve and map RAM, reserve devices ...
///     Vcpu* vcpu = *vm->create_vcpu();
///     load_image_file(*vm, 0x10000, "guest.bin");    // guestmem/guest_memory.hpp
///     vcpu->boot({.entry = 0x10000, .stack = 0x80000, .x86_tables = 0x1000});
///     auto result = vcpu->run();                      // until HLT, an exit or an error
///
/// On KVM:
/// - StopReason::exception means KVM_EXIT_SHUTDOWN (a triple fault: an
///   exception without an IDT). For a failed write (and port I/O), RunResult's
///   fault ip is the address of the next instruction: KVM has already moved
///   past the instruction; for a read it is the faulting instruction's.
/// - Vcpu::request_stop() interrupts a vCPU thread inside KVM_RUN with
///   kick_signal().
/// - Only x86_64 guests (Backend::arch() is Arch::x86_64).
///
/// Thread safety: the backend is used by its Vm only; the Vm serialises
/// install/uninstall/create_vcpu, which may run while vCPU threads run guests
/// (KVM lets memory slots change under running vCPUs). memslot_usage,
/// available and usable may be called from any thread. BackendOptions and
/// MemslotUsage are plain values.
#pragma once

#include <guestmem/export.h>

#include <cstddef>
#include <cstdint>
#include <memory>

#include "guestmem/arch.hpp"
#include "guestmem/backend.hpp"
#include "guestmem/error.hpp"
#include "guestmem/types.hpp"

/// The KVM backend (VM_BACKEND_KVM): real x86 guests on /dev/kvm.
namespace guestmem::kvm {

// ---------------------------------------------------------------- the backend

/// True when /dev/kvm exists on this host (it may still refuse to open).
GUESTMEM_API bool available();

/// Whether a KVM backend for `arch` guests can be created here: opens
/// /dev/kvm, checks the API version and the features the backend needs and
/// creates a VM (once per process; the answer is cached). The error, never
/// logged, says why not, e.g. "/dev/kvm is absent" (Errc::unsupported).
/// Thread safe.
GUESTMEM_API Result<void> usable(Arch arch);

/// Options of a KVM backend.
struct BackendOptions {
    /// Memory slots the VM may use; 0 means all KVM offers (KVM_CAP_NR_MEMSLOTS).
    /// A small number lets tests reach slot exhaustion cheaply.
    std::uint32_t max_slots = 0;
    /// Where KVM keeps its three private pages for real mode on Intel CPUs
    /// without unrestricted guest (KVM_SET_TSS_ADDR). Keep it outside guest RAM.
    std::uint32_t tss_address = 0xfffbd000;
};

/// A KVM backend for a Vm: `Vm vm(std::move(*kvm::create_backend()), caps)`.
/// Fails with Errc::unsupported when /dev/kvm is absent or lacks a needed
/// feature (the message says which), Errc::backend_error when KVM refuses.
GUESTMEM_API Result<std::unique_ptr<Backend>> create_backend();
/// A KVM backend with `options`; errors as create_backend().
GUESTMEM_API Result<std::unique_ptr<Backend>> create_backend(const BackendOptions& options);
/// A KVM backend for `arch` guests (the backend registry's factory): errors
/// as create_backend(), and Errc::unsupported for any arch but x86_64.
GUESTMEM_API Result<std::unique_ptr<Backend>> create_backend(Arch arch);

/// Memory slots of a KVM backend.
struct MemslotUsage {
    std::size_t in_use = 0;  ///< slots holding guest memory (one per mapped run)
    std::size_t limit = 0;   ///< slots this VM may use
};
/// The slots `backend` uses. Errc::unsupported if it is not a KVM backend.
GUESTMEM_API Result<MemslotUsage> memslot_usage(const Backend& backend);

// ------------------------------------------------------------------ running

/// The signal KvmVcpu's request_stop sends to a vCPU thread inside KVM_RUN
/// (SIGRTMIN + 3). Its handler, installed on the first stop request, does
/// nothing; a thread that blocks it stops at its next exit instead.
GUESTMEM_API int kick_signal();

}  // namespace guestmem::kvm
