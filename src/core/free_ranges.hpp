// SPDX-License-Identifier: BSD-2-Clause
// A set of free address ranges with first-fit aligned allocation.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <vector>

#include "guestmem/types.hpp"

namespace guestmem {

/// Free ranges kept merged: no two stored ranges touch or overlap. Used for the
/// anonymous pools' guest-physical space and for frame arenas' memfd offsets.
///
/// Thread safety: none; the owner serialises access.
class FreeRanges {
public:
    /// Adds [base, base + size) to the free set, merging with its neighbours.
    /// The range must not overlap a range already free.
    void add(std::uint64_t base, std::uint64_t size);

    /// Takes the lowest `size` bytes aligned to `align` (a power of two).
    std::optional<std::uint64_t> take(std::uint64_t size, std::uint64_t align);

    /// Takes exactly [base, base + size) if all of it is free.
    bool take_at(std::uint64_t base, std::uint64_t size);

    /// True when all of [base, base + size) is free.
    bool is_free(std::uint64_t base, std::uint64_t size) const;

    /// The largest free range (lowest one on ties), if any.
    std::optional<Range> largest() const;

    /// True when any byte of [base, base + size) is free.
    bool overlaps(std::uint64_t base, std::uint64_t size) const;

    /// Takes whatever is free in [base, base + size) (none of it need be);
    /// returns the number of bytes taken.
    std::uint64_t take_within(std::uint64_t base, std::uint64_t size);

    /// The free ranges, in address order.
    std::vector<Range> ranges() const;

    std::uint64_t total() const { return total_; }
    std::size_t fragments() const { return ranges_.size(); }

private:
    void carve(std::map<std::uint64_t, std::uint64_t>::iterator it, std::uint64_t base, std::uint64_t size);

    std::map<std::uint64_t, std::uint64_t> ranges_;  // base -> size
    std::uint64_t total_ = 0;
};

}  // namespace guestmem
