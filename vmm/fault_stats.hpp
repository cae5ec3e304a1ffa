// SPDX-License-Identifier: BSD-2-Clause
// Counts what happened to the faults of each reservation.
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "guestmem/fault.hpp"

namespace vmm {

/// Per-reservation counters, updated from vCPU threads without locks.
struct FaultCounters {
    std::string name;
    std::array<std::atomic<std::uint64_t>, 5> by_result{};  ///< indexed by FaultResult
    std::atomic<std::uint64_t> callback_ns{0};
    std::atomic<std::uint64_t> lazy_maps{0};  ///< deferred mappings run on a first touch

    explicit FaultCounters(std::string n) : name(std::move(n)) {}
    std::uint64_t total() const;
};

/// The counters of every reservation of a machine, in creation order.
///
/// Thread safety: add() from the thread building the machine; counters from any thread.
class FaultStats {
public:
    FaultCounters& add(std::string name);
    /// Wraps a handler so its results and time are counted.
    static guestmem::FaultHandler instrument(FaultCounters& counters, guestmem::FaultHandler inner);
    const std::vector<std::unique_ptr<FaultCounters>>& all() const { return counters_; }

private:
    std::vector<std::unique_ptr<FaultCounters>> counters_;
};

}  // namespace vmm
