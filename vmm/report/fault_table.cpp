// SPDX-License-Identifier: BSD-2-Clause
#include "fault_table.hpp"

#include <cstdio>
#include <sstream>

namespace vmm {

namespace {

std::string cell(std::uint64_t v, int width) {
    char buffer[32];
    std::snprintf(buffer, sizeof buffer, "%*llu", width, static_cast<unsigned long long>(v));
    return buffer;
}

std::string left(const std::string& s, std::size_t width) {
    return s.size() >= width ? s + " " : s + std::string(width - s.size(), ' ');
}

}  // namespace

std::string fault_table(const FaultStats& stats, const RunTotals& totals) {
    std::ostringstream out;
    out << left("reservation", 18) << "  handled unhandled  restart   ignore    error  lazy-map  callback-us\n";
    std::uint64_t faults = 0, ns = 0;
    for (const auto& c : stats.all()) {
        if (c->total() == 0 && c->lazy_maps.load() == 0) continue;
        out << left(c->name, 18);
        for (const auto& count : c->by_result) out << cell(count.load(), 9);
        out << cell(c->lazy_maps.load(), 10) << cell(c->callback_ns.load() / 1000, 13) << "\n";
        faults += c->total();
        ns += c->callback_ns.load();
    }
    char line[200];
    std::snprintf(
        line, sizeof line,
        "totals: %llu faults dispatched to callbacks, %.3f ms in callbacks, %llu exits, %llu accesses, %.3f s\n",
        static_cast<unsigned long long>(faults), static_cast<double>(ns) / 1e6,
        static_cast<unsigned long long>(totals.exits), static_cast<unsigned long long>(totals.accesses),
        totals.seconds);
    out << line;
    return out.str();
}

}  // namespace vmm
