// SPDX-License-Identifier: BSD-2-Clause
// Vcpu::boot: one boot path per architecture, the same for every backend.
#include "aarch64_boot.hpp"
#include "guestmem/log.hpp"
#include "guestmem/vcpu.hpp"
#include "x86_64_boot.hpp"

namespace guestmem {

Result<void> Vcpu::boot(const BootSpec& spec) {
    ApiCall call("Vcpu::boot");
    if (auto ok = check_not_in_handler(); !ok) return ok;
    switch (arch()) {
    case Arch::x86_64: return arch::boot_x86_64(*this, spec);
    case Arch::aarch64: return arch::boot_aarch64(*this, spec);
    }
    return fail(Errc::unsupported, "unknown architecture");
}

}  // namespace guestmem
