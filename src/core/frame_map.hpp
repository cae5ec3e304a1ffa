// SPDX-License-Identifier: BSD-2-Clause
// The frames mapped into one reservation, as runs of guest memory.
#pragma once

#include <memory>
#include <optional>
#include <vector>

#include "guestmem/backend.hpp"
#include "guestmem/frame.hpp"

namespace guestmem {

/// Immutable once built: readers on vCPU threads use it without locks.
/// Holds a reference on every frame, so mapped frames outlive their
/// capabilities.
class FrameMap {
public:
    /// Appends a frame at `gpa` (in ascending address order). Frames without
    /// the read right are not mapped: accesses to them fault.
    void add(GuestAddr gpa, std::shared_ptr<Frame> frame, Rights rights);

    /// The run holding `addr`, or nullptr.
    const MappedRun* find(GuestAddr addr) const;
    /// The run that starts where `run` (one of runs()) ends, or nullptr if
    /// memory is unmapped there: walking a range run by run without searching.
    const MappedRun* adjacent(const MappedRun& run) const;
    const std::vector<MappedRun>& runs() const { return runs_; }
    std::size_t frame_count() const { return frames_.size(); }

private:
    std::vector<MappedRun> runs_;  // ascending, non-overlapping
    std::vector<std::shared_ptr<Frame>> frames_;
};

}  // namespace guestmem
