// SPDX-License-Identifier: BSD-2-Clause
#include "units.hpp"

#include <cstdio>

namespace vmm {

std::string human_size(std::uint64_t bytes) {
    static const char* const units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
    unsigned unit = 0;
    double value = static_cast<double>(bytes);
    while (value >= 1024 && unit < 4) {
        value /= 1024;
        ++unit;
    }
    char buffer[32];
    if (value == static_cast<double>(static_cast<std::uint64_t>(value))) {
        std::snprintf(buffer, sizeof buffer, "%llu %s", static_cast<unsigned long long>(value), units[unit]);
    } else {
        std::snprintf(buffer, sizeof buffer, "%.1f %s", value, units[unit]);
    }
    return buffer;
}

std::string address(std::uint64_t value) {
    char buffer[24];
    if (value <= 0xffffffffu) {
        std::snprintf(buffer, sizeof buffer, "0x%08llx", static_cast<unsigned long long>(value));
    } else {
        std::snprintf(buffer, sizeof buffer, "0x%llx", static_cast<unsigned long long>(value));
    }
    return buffer;
}

}  // namespace vmm
