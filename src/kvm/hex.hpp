// Hexadecimal numbers for error messages.
#pragma once

#include <cstdint>
#include <cstdio>
#include <string>

namespace guestmem::kvm {

/// "0x1f" (and "0" for zero), as the rest of guestmem's messages write addresses.
inline std::string hex(std::uint64_t value) {
    char buf[24];
    std::snprintf(buf, sizeof buf, "%#llx", static_cast<unsigned long long>(value));
    return buf;
}

}  // namespace guestmem::kvm
