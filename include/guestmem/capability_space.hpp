// SPDX-License-Identifier: BSD-2-Clause
/// @file
/// The VMM's capability space: frames handed out as capabilities with rights.
#pragma once

#include <guestmem/export.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <span>
#include <unordered_map>
#include <vector>

#include "guestmem/error.hpp"
#include "guestmem/frame.hpp"
#include "guestmem/types.hpp"

namespace guestmem {

class Backend;
class FrameArena;
class Vm;
struct DirtyTrackers;

/// What a capability grants: a frame and the rights to it.
struct CapabilityInfo {
    std::shared_ptr<Frame> frame;  ///< the frame (shared: holding it keeps the frame alive)
    Rights rights = Rights::none;  ///< what the capability allows
};

/// Frames of 4 KiB, 2 MiB and 1 GiB backed by memfd memory, named by
/// capabilities. Capabilities are unforgeable in the sense that matters to a
/// VMM: a value is only valid if this space issued it and it was not deleted,
/// and a value is never issued twice, so a deleted capability never revives.
/// Copies can only lose rights. A frame lives while any capability or mapping
/// holds it.
///
/// Every VM that should share frames must use the same CapabilitySpace.
///
/// Thread safety: all members are safe to call concurrently.
class GUESTMEM_API CapabilitySpace {
public:
    /// Limits of a capability space.
    struct Options {
        /// Total bytes of frames that may exist at once; 0 means the host's
        /// physical memory size.
        std::uint64_t frame_budget = 0;
        /// Size of each memfd arena frames are carved from (a multiple of 1 GiB).
        std::uint64_t arena_bytes = std::uint64_t{16} << 30;
    };

    /// A space with default Options (budget: the host's physical memory).
    CapabilitySpace();
    /// A space with the given limits (arena_bytes is rounded up to a multiple of 1 GiB).
    explicit CapabilitySpace(Options options);
    ~CapabilitySpace();
    CapabilitySpace(const CapabilitySpace&) = delete;
    CapabilitySpace& operator=(const CapabilitySpace&) = delete;

    /// Allocates a zeroed frame and returns a capability with all rights to it.
    /// Errors: Errc::out_of_memory (frame budget exhausted, no memfd arena).
    Result<Cap> allocate_frame(FrameSize size);
    /// Issues a new capability to the same frame with `rights` intersected with
    /// the source capability's rights. Errors: Errc::bad_capability (not live).
    Result<Cap> copy(Cap cap, Rights rights);
    /// Deletes a capability. The frame lives on while mapped or otherwise named.
    /// Errors: Errc::bad_capability (not live).
    Result<void> remove(Cap cap);
    /// The frame and rights a capability names. Errors: Errc::bad_capability.
    Result<CapabilityInfo> lookup(Cap cap) const;
    /// The VMM's view of the frame a capability names. Errors: Errc::bad_capability.
    Result<std::span<std::byte>> frame_memory(Cap cap) const;

    /// Capabilities issued and not deleted.
    std::size_t live_capabilities() const;
    /// Bytes of frames alive (named by a capability or held by a mapping).
    std::uint64_t frame_bytes_in_use() const;

private:
    // Dirty-page tracking (Vm::start_dirty_tracking): trackers are VMs
    // recording writes to this space's frames; sources are the backends of
    // every VM using the space, which log the guest writes they perform.
    friend class Vm;
    Result<unsigned> start_tracker();
    void stop_tracker(unsigned tracker);
    void add_dirty_source(Backend& backend);
    void remove_dirty_source(Backend& backend);
    Result<void> harvest_dirty();

    Result<Frame::Placement> place(std::uint64_t bytes);  // caller holds mutex_
    std::uint64_t bytes_in_use_locked() const;

    Options options_;
    mutable std::mutex mutex_;
    std::unordered_map<Cap, CapabilityInfo> caps_;
    std::vector<std::shared_ptr<FrameArena>> arenas_;
    Cap next_cap_ = 1;
    std::uint64_t tracked_ = 0;  // mutex_; bit t: the arenas record for tracker t
    std::unique_ptr<DirtyTrackers> trackers_;
};

}  // namespace guestmem
