// SPDX-License-Identifier: BSD-2-Clause
// Which 4 KiB pages of one frame arena were written, for each VM tracking them.
#pragma once

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <span>

#include "guestmem/error.hpp"
#include "guestmem/types.hpp"
#include "thread_inside.hpp"

namespace guestmem {

/// The dirty pages of one memfd arena (see FrameArena), kept per tracker.
///
/// Dirty state belongs to frame memory, not to a VM's view of it: a write
/// through any VM's mapping of a shared frame, or by the VMM, marks the same
/// bit, and each VM that tracks writes (a tracker, holding one of kTrackers
/// slots of its CapabilitySpace) has its own bits, so collecting in one VM
/// never hides a write from another.
///
/// Cost while no tracker is attached: mark() is one relaxed load of a word
/// that only changes when tracking starts or stops. While one is: a load per
/// page and, the first time the page is written since it was last
/// collected, one atomic OR.
///
/// No write is lost: a writer stores its data first and marks afterwards,
/// and collect() clears bits with an atomic AND that returns what was set, so
/// every write between two collections is reported by one of them. A
/// writer that finds its page's bit already set does not write it; the
/// fence pair (reader_fence() here, writer_fence() after collecting, as in
/// thread_inside.hpp) makes its data visible to whoever reads the page after
/// the collection that cleared the bit. The bits
/// of a page may also be set by a write that ended just before a tracker
/// attached, or by a frame that used the memory earlier: dirty pages may be
/// over-reported, never under-reported.
///
/// Thread safety: mark() and collect() from any thread at any time;
/// attach() and detach() are serialised by the CapabilitySpace.
class DirtyLog {
public:
    /// Trackers one capability space can have at once.
    static constexpr unsigned kTrackers = 64;

    /// The log of `capacity` bytes (a multiple of the page size) at `base`.
    DirtyLog(const std::byte* base, std::uint64_t capacity);
    ~DirtyLog();
    DirtyLog(const DirtyLog&) = delete;
    DirtyLog& operator=(const DirtyLog&) = delete;

    /// True while any tracker is attached.
    bool tracking() const noexcept { return attached_.load(std::memory_order_relaxed) != 0; }

    /// Records a write of `bytes` (> 0) at `host`, which lies in the arena.
    /// Call it after the data is stored.
    void mark(const std::byte* host, std::uint64_t bytes) noexcept {
        if (!tracking()) return;
        // Orders the data stored before against the bits read in
        // mark_fenced(); the collector's side is writer_fence().
        reader_fence();
        mark_fenced(host, bytes);
    }
    /// mark() for a caller that has run the reader side of the fence pair
    /// since storing the data (Reservation::leave_fenced() returning true).
    void mark_fenced(const std::byte* host, std::uint64_t bytes) noexcept {
        // Acquire: a tracker's bits are published before its attached_ bit.
        const std::uint64_t trackers = attached_.load(std::memory_order_acquire);
        if (trackers == 0) return;
        const std::uint64_t first = page_of(host);
        const std::uint64_t last = page_of(host + (bytes - 1));
        if (first == last && (trackers & (trackers - 1)) == 0) {
            // One page for one tracker (a VMM writing a descriptor while a
            // migration runs): inline, no loop.
            mark_page(words_[static_cast<unsigned>(__builtin_ctzll(trackers))].load(std::memory_order_acquire), first);
        } else {
            mark_pages(trackers, first, last);
        }
    }

    /// Starts recording for `tracker` (< kTrackers) with every page clean.
    /// Errors: Errc::out_of_memory (no memory for the bits).
    Result<void> attach(unsigned tracker);
    /// Stops recording for `tracker`. Its bits are kept (a marker may still
    /// be writing them) and cleared by the next attach().
    void detach(unsigned tracker) noexcept;

    /// Hands every page of [host, host + bytes) (page aligned, in the arena)
    /// that `tracker` saw written since its last collect() to `dirty`, as
    /// page indices from `host`, and marks them clean for `tracker`.
    template <class Visit>
    void collect(unsigned tracker, const std::byte* host, std::uint64_t bytes, Visit&& dirty) noexcept {
        std::atomic<std::uint64_t>* words = words_[tracker].load(std::memory_order_acquire);
        if (!words || bytes == 0) return;
        const std::uint64_t first = page_of(host);
        const std::uint64_t end = first + bytes / kPageSize;
        for (std::uint64_t page = first; page < end;) {
            const std::uint64_t word = page / 64;
            const std::uint64_t lo = page % 64;
            const std::uint64_t hi = std::min<std::uint64_t>(64, lo + (end - page));
            const std::uint64_t mask = range_mask(lo, hi);
            // Clean words are the rule: a load, not a read-modify-write.
            if (words[word].load(std::memory_order_relaxed) & mask) {
                std::uint64_t set = words[word].fetch_and(~mask, std::memory_order_acq_rel) & mask;
                while (set) {
                    const auto bit = static_cast<std::uint64_t>(__builtin_ctzll(set));
                    set &= set - 1;
                    dirty(word * 64 + bit - first);
                }
            }
            page = word * 64 + hi;
        }
    }

    /// Sets again, for `tracker` only, the bits of pages of [host, host +
    /// bytes) (page aligned, in the arena) for which `pages` (one bit per
    /// page from `host`) is set: pages collect() handed out to a caller
    /// that could not use them (a snapshot whose file could not be written)
    /// are reported by the next collection, as if never collected.
    void mark_again(unsigned tracker, const std::byte* host, std::span<const std::uint64_t> pages,
                    std::uint64_t bytes) noexcept {
        std::atomic<std::uint64_t>* words = words_[tracker].load(std::memory_order_acquire);
        if (!words) return;
        const std::uint64_t first = page_of(host);
        const std::uint64_t count = bytes / kPageSize;
        for (std::uint64_t p = 0; p < count && p / 64 < pages.size(); ++p) {
            if ((pages[p / 64] >> (p % 64)) & 1) mark_page(words, first + p);
        }
    }

    /// The arena's page holding `host`.
    std::uint64_t page_of(const std::byte* host) const noexcept {
        return static_cast<std::uint64_t>(host - base_) >> kPageBits;
    }

private:
    /// Sets `page`'s bit in a tracker's `words`.
    static void mark_page(std::atomic<std::uint64_t>* words, std::uint64_t page) noexcept {
        std::atomic<std::uint64_t>& word = words[page / 64];
        const std::uint64_t bit = std::uint64_t{1} << (page % 64);
        // Pages are written many times between collections: after the
        // first, a load finds the bit set and no cache line bounces.
        if (!(word.load(std::memory_order_relaxed) & bit)) word.fetch_or(bit, std::memory_order_release);
    }
    /// Records writes to the arena's pages [first, last] (page indices) for
    /// the trackers attached (`trackers`, as mark() read them).
    void mark_pages(std::uint64_t trackers, std::uint64_t first, std::uint64_t last) noexcept;
    static std::uint64_t range_mask(std::uint64_t lo, std::uint64_t hi) noexcept {
        const std::uint64_t upto = hi == 64 ? ~std::uint64_t{0} : (std::uint64_t{1} << hi) - 1;
        return upto & ~((std::uint64_t{1} << lo) - 1);
    }
    std::uint64_t word_count() const noexcept { return (capacity_ / kPageSize + 63) / 64; }

    const std::byte* base_;
    std::uint64_t capacity_;
    std::atomic<std::uint64_t> attached_{0};  // bit t: tracker t records
    // Tracker t's bits, mapped on its first attach and kept for the arena's
    // life (sparse: untouched words cost no memory).
    std::array<std::atomic<std::atomic<std::uint64_t>*>, kTrackers> words_{};
};

}  // namespace guestmem
