// SPDX-License-Identifier: BSD-2-Clause
// The neutral x86 register types and KVM's kvm_regs / kvm_sregs.
#pragma once

#include <linux/kvm.h>

#include "guestmem/registers.hpp"
#include "guestmem/system_state.hpp"

namespace guestmem::kvm {

/// kvm_regs holding `r`.
kvm_regs to_kvm(const X86Registers& r);
/// The registers in `k`.
X86Registers from_kvm(const kvm_regs& k);

/// `base` (what KVM_GET_SREGS returned: it keeps CR2, CR8, the APIC base and
/// pending interrupts, which X86SystemState does not hold) with every field of
/// `s` written into it. A segment that is not present is marked unusable, as
/// VM entry treats it.
kvm_sregs to_kvm(const X86SystemState& s, kvm_sregs base);
/// The system state in `k`; an unusable segment reads as not present.
X86SystemState from_kvm(const kvm_sregs& k);

}  // namespace guestmem::kvm
