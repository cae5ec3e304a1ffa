// SPDX-License-Identifier: BSD-2-Clause
#include "mmio_exit.hpp"

#include <cstring>

namespace guestmem::kvm {

AccessOutcome dispatch_mmio(Vm& vm, Vcpu& vcpu, GuestAddr addr, std::uint8_t* data, std::uint32_t len,
                            bool is_write) {
    const bool valid = len >= 1 && len <= 8;
    Access access{addr, static_cast<std::uint8_t>(valid ? len : 0), is_write, 0};
    // The guest's bytes are little-endian, as is the host (x86 on x86).
    if (is_write && valid) std::memcpy(&access.data, data, len);
    const AccessOutcome outcome = vm.dispatch(vcpu, access);
    if (outcome == AccessOutcome::completed && !is_write) std::memcpy(data, &access.data, len);
    return outcome;
}

}  // namespace guestmem::kvm
