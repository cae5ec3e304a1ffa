// SPDX-License-Identifier: BSD-2-Clause
// First touches of deferred memory that KVM does not turn into MMIO exits.
#pragma once

#include "guestmem/error.hpp"
#include "kvm_vcpu.hpp"

namespace guestmem::kvm {

/// How KVM ended a run whose cause may be a first touch of deferred memory
/// (a reservation whose frames Vm::map left for its first access).
enum class DeferredTouch {
    /// KVM_INTERNAL_ERROR_EMULATION: an instruction fetched from memory
    /// without a memory slot (KVM emulates the access and cannot fetch).
    emulation_failure,
    /// KVM_EXIT_SHUTDOWN: a page-table walk through memory without a memory
    /// slot (KVM injects a page fault, which a guest without an IDT cannot
    /// take), or CR3 itself there (KVM shuts the guest down on every entry).
    shutdown,
};

/// What map_deferred_for found.
struct DeferredTouchOutcome {
    /// At least one deferred mapping was completed: entering the guest again gets further.
    bool mapped = false;
    /// The instruction's translation and bytes all lie in mapped RAM now.
    /// Without `mapped`: another vCPU completed what it needed since the
    /// exit (worth one more try), or the exit has another cause.
    bool resolved = false;
    /// RIP at the exit.
    GuestAddr ip = 0;
};

/// KVM turns a data access to memory without a memory slot into an MMIO
/// exit, which Vm::dispatch serves (completing a deferred mapping there),
/// but not an instruction fetch or a page-table walk. After `touch`, this
/// maps what the instruction at RIP needs: the deferred reservations holding
/// the page-table entries of its translation (walked in guest memory through
/// the library) and its bytes, and, after a shutdown, those on the way to
/// CR2 (the address of the page fault that ended in it). After a shutdown
/// that may have been one of these, it has KVM rebuild its view of the page
/// tables, which it would otherwise keep. Paging modes other than long
/// mode's 4 and 5 levels are not walked: only code reached without paging
/// or through long-mode tables is resolved. Errors: those of a deferred
/// mapping that fails, and of reading or writing the vCPU's registers.
Result<DeferredTouchOutcome> map_deferred_for(KvmVcpu& vcpu, DeferredTouch touch);

}  // namespace guestmem::kvm
