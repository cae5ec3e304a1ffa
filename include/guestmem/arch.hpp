// SPDX-License-Identifier: BSD-2-Clause
/// @file
/// Guest CPU architectures.
#pragma once

#include <guestmem/export.h>

#include <optional>
#include <string_view>

namespace guestmem {

/// The instruction set a VM's vCPUs run.
enum class Arch {
    x86_64 = 0,   ///< x86-64 (AMD64), little-endian
    aarch64 = 1,  ///< AArch64 (Armv8-A, A64 instruction set), little-endian
};

/// The architecture of the host this library was built for.
constexpr Arch host_arch() {
#if defined(__aarch64__)
    return Arch::aarch64;
#else
    return Arch::x86_64;
#endif
}

/// "x86_64" or "aarch64".
GUESTMEM_API std::string_view to_string(Arch arch);
/// The architecture named `name` ("x86_64" or "aarch64"), if there is one.
GUESTMEM_API std::optional<Arch> arch_from_string(std::string_view name);

}  // namespace guestmem
