// SPDX-License-Identifier: BSD-2-Clause
#include "aarch64_boot.hpp"

#include "guestmem/vcpu.hpp"

namespace guestmem::arch {

Result<void> check_aarch64_boot(const BootSpec& spec) {
    if (spec.x86_real_mode) return fail(Errc::invalid_argument, "real mode is x86 only; AArch64 guests start at EL1");
    if ((spec.entry & 0x3) != 0) return fail(Errc::invalid_argument, "AArch64 entry point must be 4-byte aligned");
    if ((spec.stack & 0xf) != 0) return fail(Errc::invalid_argument, "AArch64 stack pointer must be 16-byte aligned");
    return {};
}

Arm64Registers aarch64_boot_registers(const BootSpec& spec) {
    Arm64Registers r;
    for (std::size_t i = 0; i < spec.args.size(); ++i) r.x[i] = spec.args[i];
    r.sp = spec.stack;
    r.pc = spec.entry;
    r.pstate = kArm64BootPstate;
    return r;
}

Arm64SystemState aarch64_boot_system_state() { return Arm64SystemState{}; }

Result<void> boot_aarch64(Vcpu& vcpu, const BootSpec& spec) {
    if (auto ok = check_aarch64_boot(spec); !ok) return ok;
    if (auto set = vcpu.set_system_state(aarch64_boot_system_state()); !set) return set;
    return vcpu.set_registers(aarch64_boot_registers(spec));
}

}  // namespace guestmem::arch
