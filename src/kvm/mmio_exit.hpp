// SPDX-License-Identifier: BSD-2-Clause
// Turning a KVM MMIO exit into a guest access for Vm::dispatch.
#pragma once

#include <cstdint>

#include "guestmem/fault.hpp"
#include "guestmem/vm.hpp"

namespace guestmem::kvm {

/// Performs the exit `data[0..len)` at `addr` through `vm.dispatch` on
/// `vcpu`; for a read fills `data` (8 bytes, as KVM's exit data always is)
/// with what was read, zero beyond `len`. KVM reports 1, 2, 4 or 8 bytes for
/// ordinary instructions and fragments of up to 8 bytes of an access that
/// crosses a page: the core splits both the same way as on every backend (at
/// owner boundaries, then into naturally aligned pieces). A length of 0 or
/// above 8 (never produced by KVM) is an invalid access, refused by
/// Vm::dispatch's size check. The failure is returned, not logged.
AccessOutcome dispatch_mmio(Vm& vm, Vcpu& vcpu, GuestAddr addr, std::uint8_t* data, std::uint32_t len, bool is_write);

}  // namespace guestmem::kvm
