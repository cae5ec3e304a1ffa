// SPDX-License-Identifier: BSD-2-Clause
#include "format.hpp"

#include <cstdio>

namespace guestmem {

std::string hex(std::uint64_t value) {
    char buffer[24];
    std::snprintf(buffer, sizeof buffer, "0x%llx", static_cast<unsigned long long>(value));
    return buffer;
}

std::string describe(const Range& range) {
    std::string out = "[";
    out += hex(range.base);
    out += ", ";
    // A range ending exactly at 2^64 has no representable end.
    out += range.size != 0 && range.end() == 0 ? std::string("2^64") : hex(range.end());
    out += ")";
    return out;
}

}  // namespace guestmem
