#include "format.hpp"

#include <cstdio>

namespace guestmem {

std::string hex(std::uint64_t value) {
    char buffer[24];
    std::snprintf(buffer, sizeof buffer, "0x%llx", static_cast<unsigned long long>(value));
    return buffer;
}

std::string describe(const Range& range) { return "[" + hex(range.base) + ", " + hex(range.end()) + ")"; }

}  // namespace guestmem
