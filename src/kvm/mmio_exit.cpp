// SPDX-License-Identifier: BSD-2-Clause
#include "mmio_exit.hpp"

#include <cstring>

namespace guestmem::kvm {

AccessOutcome dispatch_mmio(Vm& vm, Vcpu& vcpu, GuestAddr addr, std::uint8_t* data, std::uint32_t len, bool is_write) {
    // Vm::dispatch makes the one size check: a length too large for the
    // Access stays invalid (0) instead of wrapping to a valid size.
    Access access{addr, static_cast<std::uint8_t>(len <= 0xff ? len : 0), is_write, 0};
    // All 8 bytes (little-endian, as is the host): Vm::dispatch keeps a
    // write's `len`, and a read's value has no bytes beyond it.
    if (is_write) std::memcpy(&access.data, data, sizeof access.data);
    AccessOutcome outcome = vm.dispatch(vcpu, access);
    if (outcome && !is_write) std::memcpy(data, &access.data, sizeof access.data);
    return outcome;
}

}  // namespace guestmem::kvm
