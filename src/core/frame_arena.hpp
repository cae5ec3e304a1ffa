// SPDX-License-Identifier: BSD-2-Clause
// One memfd, mapped once, from which frames are carved.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>

#include "guestmem/error.hpp"
#include "guestmem/types.hpp"
#include "dirty_log.hpp"
#include "free_ranges.hpp"

namespace guestmem {

struct ArenaRegistry;

/// A memfd of fixed capacity mapped into the VMM once. Frames are placed first
/// fit at their natural alignment, so frames allocated one after another are
/// contiguous in the VMM's address space and in the memfd: the KVM backend then
/// covers a run of them with a single memory slot.
///
/// Memory is only committed when touched. Released frames are punched out of
/// the memfd (returning the memory to the host and zeroing the frame) and their
/// space merges back into the free list.
///
/// Thread safety: all members are safe to call concurrently.
class FrameArena {
public:
    static Result<std::shared_ptr<FrameArena>> create(std::uint64_t capacity);
    ~FrameArena();
    FrameArena(const FrameArena&) = delete;
    FrameArena& operator=(const FrameArena&) = delete;

    /// Offset of a free, naturally aligned block of `bytes`, or nullopt when full.
    std::optional<std::uint64_t> take(std::uint64_t bytes);
    /// Returns a block taken with take(); its contents become zero.
    void give_back(std::uint64_t offset, std::uint64_t bytes);

    int fd() const { return fd_; }
    std::byte* base() const { return base_; }
    std::uint64_t capacity() const { return capacity_; }
    /// Bytes currently handed out as frames.
    std::uint64_t bytes_in_use();
    /// Which pages of the arena were written, per dirty tracker.
    DirtyLog& dirty() { return dirty_; }

    /// Where a byte of some live arena lies: the arena (held, so its memfd
    /// stays open), the byte's offset in the memfd, and how many bytes from
    /// there on belong to the same arena.
    struct Location {
        std::shared_ptr<FrameArena> arena;
        std::uint64_t offset = 0;
        std::uint64_t bytes_left = 0;
    };
    /// The live arena whose VMM mapping holds `host`, if any. Backends that
    /// must map frames a second time (the emulator places a reservation's
    /// frames side by side in one host window) find the memfd this way.
    /// Thread safe.
    static std::optional<Location> locate(const std::byte* host);

private:
    struct Key {  // only create() can make one: the constructor is public for make_shared alone
        explicit Key() = default;
    };

public:
    FrameArena(Key, int fd, std::byte* base, std::uint64_t capacity);

private:
    int fd_;
    std::byte* base_;
    std::uint64_t capacity_;
    std::mutex mutex_;  // after CapabilitySpace::mutex_; a leaf otherwise
    FreeRanges free_;
    DirtyLog dirty_;
    std::shared_ptr<ArenaRegistry> registry_;  // where locate() finds this arena
};

}  // namespace guestmem
