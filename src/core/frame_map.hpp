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
    const MappedRun* find(GuestAddr addr) const {
        // Contiguous frames merge into one run, the usual case: no search, no
        // call, and no second cache miss (the copy is in this object, next to
        // the pointer to it that was just read).
        if (only_.size != 0) return addr - only_.gpa < only_.size ? &only_ : nullptr;
        return search(addr);
    }
    /// The run that starts where `run` (one of runs()) ends, or nullptr if
    /// memory is unmapped there: walking a range run by run without searching.
    const MappedRun* adjacent(const MappedRun& run) const;
    const std::vector<MappedRun>& runs() const { return runs_; }
    std::size_t frame_count() const { return frames_.size(); }
    /// Every frame, in address order, with the rights it was mapped with.
    const std::vector<FrameMapping>& frames() const { return frames_; }

private:
    const MappedRun* search(GuestAddr addr) const;

    MappedRun only_;               // runs_[0] while it is the only run, else empty (size 0), for find()
    std::vector<MappedRun> runs_;  // ascending, non-overlapping
    std::vector<FrameMapping> frames_;
};

}  // namespace guestmem
