// SPDX-License-Identifier: BSD-2-Clause
/// @file
/// A set of 4 KiB guest pages: what Vm::dirty_pages returns.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "guestmem/types.hpp"

namespace guestmem {

/// The pages of a page-aligned guest-physical range, one bit each: bit i of
/// words[i / 64] stands for the 4 KiB page at range.base + i * 4096
/// (the layout of KVM_GET_DIRTY_LOG's bitmap and of vm-memory's AtomicBitmap).
///
/// Thread safety: a plain value.
struct DirtyBitmap {
    Range range;                       ///< the pages covered (page aligned)
    std::vector<std::uint64_t> words;  ///< (pages + 63) / 64 words

    /// A bitmap of `range` (page aligned) with no page set.
    static DirtyBitmap empty(Range range) {
        return DirtyBitmap{range, std::vector<std::uint64_t>((range.size / kPageSize + 63) / 64)};
    }
    /// Pages covered.
    std::uint64_t pages() const { return range.size / kPageSize; }
    /// Sets the page with index `page` (< pages()).
    void set(std::uint64_t page) { words[page / 64] |= std::uint64_t{1} << (page % 64); }
    /// True when the page with index `page` (< pages()) is set.
    bool test(std::uint64_t page) const { return (words[page / 64] >> (page % 64)) & 1; }
    /// True when the page holding `gpa` is in range and set.
    bool contains(GuestAddr gpa) const { return range.contains(gpa) && test((gpa - range.base) / kPageSize); }
    /// Pages set.
    std::uint64_t count() const {
        std::uint64_t n = 0;
        for (std::uint64_t w : words) n += static_cast<std::uint64_t>(__builtin_popcountll(w));
        return n;
    }
    /// The set pages as ranges of adjacent pages, in address order.
    std::vector<Range> ranges() const {
        std::vector<Range> out;
        for (std::uint64_t page = 0; page < pages(); ++page) {
            if (!test(page)) continue;
            const GuestAddr gpa = range.base + page * kPageSize;
            if (!out.empty() && out.back().end() == gpa) {
                out.back().size += kPageSize;
            } else {
                out.push_back(Range{gpa, kPageSize});
            }
        }
        return out;
    }
};

}  // namespace guestmem
