// SPDX-License-Identifier: BSD-2-Clause
#include "guestmem/arch.hpp"

namespace guestmem {

std::string_view to_string(Arch arch) {
    switch (arch) {
    case Arch::x86_64: return "x86_64";
    case Arch::aarch64: return "aarch64";
    }
    return "unknown";
}

std::optional<Arch> arch_from_string(std::string_view name) {
    if (name == "x86_64") return Arch::x86_64;
    if (name == "aarch64") return Arch::aarch64;
    return std::nullopt;
}

}  // namespace guestmem
