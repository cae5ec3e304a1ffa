// SPDX-License-Identifier: BSD-2-Clause
#include "fault_stats.hpp"

namespace vmm {

std::uint64_t FaultCounters::total() const {
    std::uint64_t sum = 0;
    for (const auto& count : by_result) sum += count.load();
    return sum;
}

FaultCounters& FaultStats::add(std::string name) {
    counters_.push_back(std::make_unique<FaultCounters>(std::move(name)));
    return *counters_.back();
}

guestmem::FaultHandler FaultStats::instrument(FaultCounters& counters, guestmem::FaultHandler inner) {
    return [&counters, inner = std::move(inner)](guestmem::Fault& fault) {
        const auto start = std::chrono::steady_clock::now();
        const guestmem::FaultResult result = inner(fault);
        const auto elapsed = std::chrono::steady_clock::now() - start;
        counters.callback_ns.fetch_add(
            static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(elapsed).count()),
            std::memory_order_relaxed);
        const auto index = static_cast<std::size_t>(result);
        if (index < counters.by_result.size()) counters.by_result[index].fetch_add(1, std::memory_order_relaxed);
        return result;
    };
}

}  // namespace vmm
