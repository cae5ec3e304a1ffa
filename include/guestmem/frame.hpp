// A frame: a naturally aligned block of host memory that can back guest RAM.
#pragma once

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
class Frame {
public:
    struct Placement {
        std::shared_ptr<FrameArena> arena;
        std::uint64_t offset;  ///< byte offset in the arena's memfd
        std::byte* host;       ///< the VMM's view of the frame
    };
    Frame(Placement placement, FrameSize size);
    ~Frame();
    Frame(const Frame&) = delete;
    Frame& operator=(const Frame&) = delete;

    FrameSize size() const { return size_; }
    std::size_t bytes() const { return bytes_of(size_); }
    std::byte* host() const { return placement_.host; }
    std::span<std::byte> memory() const { return {placement_.host, bytes()}; }
    /// The memfd holding the frame and the frame's offset in it (for hypervisors
    /// and for mapping the frame into another process).
    int memfd() const;
    std::uint64_t memfd_offset() const { return placement_.offset; }

private:
    Placement placement_;
    FrameSize size_;
};

}  // namespace guestmem
