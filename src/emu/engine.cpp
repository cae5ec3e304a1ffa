// SPDX-License-Identifier: BSD-2-Clause
#include "engine.hpp"

namespace guestmem::emu {

Result<Engine> open_engine(Arch arch) {
    uc_engine* uc = nullptr;
    const uc_err err = arch == Arch::aarch64 ? uc_open(UC_ARCH_ARM64, UC_MODE_ARM, &uc)
                                             : uc_open(UC_ARCH_X86, UC_MODE_64, &uc);
    if (err != UC_ERR_OK) {
        return fail(Errc::unsupported, describe(arch == Arch::aarch64 ? "Unicorn cannot open an AArch64 engine"
                                                                      : "Unicorn cannot open an x86-64 engine",
                                                err));
    }
    return Engine(uc);
}

std::string describe(const char* what, uc_err err) {
    return std::string(what) + ": " + uc_strerror(err) + " (" + std::to_string(static_cast<int>(err)) + ")";
}

}  // namespace guestmem::emu
