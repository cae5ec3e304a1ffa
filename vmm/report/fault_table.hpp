// SPDX-License-Identifier: BSD-2-Clause
// What happened to the faults of each reservation, as a table.
#pragma once

#include <cstdint>
#include <string>

#include "../fault_stats.hpp"

namespace vmm {

/// Totals a run adds to the table.
struct RunTotals {
    std::uint64_t exits = 0;     ///< hypervisor exits (0 on the sim backend)
    std::uint64_t accesses = 0;  ///< accesses performed (sim scripts)
    double seconds = 0;          ///< wall time of the run
};

/// Rows with faults (or lazy mappings) only, then totals.
std::string fault_table(const FaultStats& stats, const RunTotals& totals);

}  // namespace vmm
