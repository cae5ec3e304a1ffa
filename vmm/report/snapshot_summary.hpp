// SPDX-License-Identifier: BSD-2-Clause
// What guestmem-vmm snapshot-info prints: a snapshot's header, layout and sizes.
#pragma once

#include <string>

#include "guestmem/snapshot.hpp"

namespace vmm {

/// The header fields, then one line per reservation (range, kind, frames,
/// bytes stored), then the totals.
std::string snapshot_summary(const std::string& file, const guestmem::snapshot::SnapshotInfo& info);

}  // namespace vmm
