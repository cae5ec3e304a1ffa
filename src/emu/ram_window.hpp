// SPDX-License-Identifier: BSD-2-Clause
// A reservation's mapped frames as one emulator region.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "guestmem/backend.hpp"
#include "guestmem/error.hpp"
#include "host_window.hpp"

namespace guestmem::emu {

/// A stretch of a window with one set of rights: one emulator region.
struct RightsStretch {
    GuestAddr gpa = 0;
    std::uint64_t size = 0;
    bool writable = false;
};

/// One mapped run of a window as the core handed it: where dirty tracking
/// records guest stores the emulator performs in it (the window's own host
/// pages are a second mapping of the same memfd pages, not the arena's).
struct RamSegment {
    GuestAddr gpa = 0;
    std::uint64_t size = 0;
    std::byte* host = nullptr;  // MappedRun::host: the arena's view
    DirtyLog* dirty = nullptr;  // MappedRun::dirty
    bool writable = false;

    GuestAddr end() const { return gpa + size; }
};

/// Guest-physically contiguous mapped runs placed side by side in one host
/// window, so that each engine maps them with one uc_mem_map_ptr (plus one
/// uc_mem_protect per read-only stretch). Shared by the backend's current map
/// and every engine that still maps it: the host window lives while any
/// engine may touch it. Immutable once built, so thread safe.
class RamWindow {
public:
    /// Builds the window of `runs` (non-empty, ascending, contiguous, each
    /// page aligned for `page`). Errc::invalid_argument (not aligned),
    /// Errc::backend_error (a run's memory is not in a frame arena),
    /// Errc::out_of_memory (host mappings).
    static Result<std::shared_ptr<const RamWindow>> build(std::span<const MappedRun> runs, std::uint64_t page);

    GuestAddr gpa() const { return gpa_; }
    std::uint64_t size() const { return host_.size(); }
    GuestAddr end() const { return gpa_ + size(); }
    std::byte* host() const { return host_.data(); }
    const std::vector<RightsStretch>& stretches() const { return stretches_; }
    /// The runs, ascending by gpa.
    const std::vector<RamSegment>& segments() const { return segments_; }
    /// The run holding `addr` (inside the window).
    const RamSegment& segment_at(GuestAddr addr) const;
    /// Emulator regions the window takes in each engine.
    std::size_t regions() const { return stretches_.size(); }

    RamWindow(GuestAddr gpa, HostWindow host, std::vector<RightsStretch> stretches, std::vector<RamSegment> segments)
        : gpa_(gpa), host_(std::move(host)), stretches_(std::move(stretches)), segments_(std::move(segments)) {}

private:
    GuestAddr gpa_;
    HostWindow host_;
    std::vector<RightsStretch> stretches_;
    std::vector<RamSegment> segments_;
};

/// Splits ascending runs into guest-physically contiguous groups.
std::vector<std::span<const MappedRun>> contiguous_groups(std::span<const MappedRun> runs);

}  // namespace guestmem::emu
