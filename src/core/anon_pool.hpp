// SPDX-License-Identifier: BSD-2-Clause
// An anonymous pool: guest-physical space handed out as reservations on demand.
#pragma once

#include <optional>

#include "free_ranges.hpp"
#include "guestmem/types.hpp"

namespace guestmem {

/// A page-aligned range whose free space is allocated first fit at the
/// requested alignment and merged back when reservations are freed.
///
/// Thread safety: none; the AddressSpace serialises access.
class AnonPool {
public:
    explicit AnonPool(Range range) : range_(range) { free_.add(range.base, range.size); }

    const Range& range() const { return range_; }
    std::uint64_t free_bytes() const { return free_.total(); }

    /// `size` bytes at `align` (both already page multiples / powers of two).
    std::optional<GuestAddr> allocate(std::uint64_t size, std::uint64_t align) { return free_.take(size, align); }
    void release(const Range& range) { free_.add(range.base, range.size); }
    /// Takes exactly `range` (page multiples) if all of it is free (snapshot restore).
    bool allocate_at(const Range& range) { return free_.take_at(range.base, range.size); }

private:
    Range range_;
    FreeRanges free_;
};

}  // namespace guestmem
