#include "format.hpp"

#include <cstdio>

namespace guestmem {

std::string hex(std::uint64_t value) {
    char buffer[24];
    std::snprintf(buffer, sizeof buffer, "0x%llx", static_cast<unsigned long long>(value));
    return buffer;
}

std::string describe(const Range& range) {
    // A range ending exactly at 2^64 has no representable end.
    const bool to_top = range.size != 0 && range.end() == 0;
    return "[" + hex(range.base) + ", " + (to_top ? std::string("2^64") : hex(range.end())) + ")";
}

}  // namespace guestmem
