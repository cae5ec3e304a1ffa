// SPDX-License-Identifier: BSD-2-Clause
/// @file
/// A frame: a naturally aligned block of host memory that can back guest RAM.
#pragma once

#include <guestmem/export.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>

#include "guestmem/types.hpp"

namespace guestmem {

class FrameArena;

/// Host memory of one frame, carved from a memfd arena. Frames are owned through
/// std::shared_ptr: a frame lives while any capability or mapping holds it, and
/// its memory returns (zeroed) to the arena when the last holder lets go.
///
/// Thread safety: immutable after creation; the memory itself is shared with
/// guests and other threads and is accessed without synchronisation by design.
class GUESTMEM_API Frame {
public:
    /// Where a frame's memory is: made by CapabilitySpace.
    struct Placement {
        std::shared_ptr<FrameArena> arena;  ///< the arena the frame is carved from (kept alive by the frame)
        std::uint64_t offset;               ///< byte offset in the arena's memfd
        std::byte* host;                    ///< the VMM's view of the frame
    };
    /// A frame of `size` at `placement` (CapabilitySpace makes frames; users get them through capabilities).
    Frame(Placement placement, FrameSize size);
    ~Frame();
    Frame(const Frame&) = delete;
    Frame& operator=(const Frame&) = delete;

    /// The frame's size class.
    FrameSize size() const { return size_; }
    /// The frame's size in bytes.
    std::size_t bytes() const { return bytes_of(size_); }
    /// The VMM's view of the first byte (valid while the frame lives).
    std::byte* host() const { return placement_.host; }
    /// The VMM's view of the whole frame.
    std::span<std::byte> memory() const { return {placement_.host, bytes()}; }
    /// The memfd holding the frame and the frame's offset in it (for hypervisors
    /// and for mapping the frame into another process).
    int memfd() const;
    /// See memfd().
    std::uint64_t memfd_offset() const { return placement_.offset; }
    /// The arena the frame is carved from (core-internal: its dirty log).
    FrameArena& arena() const { return *placement_.arena; }

private:
    Placement placement_;
    FrameSize size_;
};

/// One frame mapped in a reservation (Vm::frame_mappings): snapshots save
/// frames by identity, so a frame two reservations share is saved once.
struct FrameMapping {
    GuestAddr gpa = 0;                   ///< where the frame starts
    Rights rights = Rights::none;        ///< the rights it was mapped with (none: mapped but inaccessible)
    std::shared_ptr<const Frame> frame;  ///< the frame (its size, memory and identity)
};

}  // namespace guestmem
