// SPDX-License-Identifier: BSD-2-Clause
#include "free_ranges.hpp"

#include <algorithm>
#include <cassert>
#include <iterator>

namespace guestmem {

void FreeRanges::add(std::uint64_t base, std::uint64_t size) {
    if (size == 0) return;
    std::uint64_t end = base + size;
    auto next = ranges_.lower_bound(base);
    if (next != ranges_.begin()) {
        auto prev = std::prev(next);
        assert(prev->first + prev->second <= base);
        if (prev->first + prev->second == base) {
            base = prev->first;
            ranges_.erase(prev);
        }
    }
    if (next != ranges_.end()) {
        assert(next->first >= end);
        if (next->first == end) {
            end += next->second;
            ranges_.erase(next);
        }
    }
    ranges_.emplace(base, end - base);
    total_ += size;
}

void FreeRanges::carve(std::map<std::uint64_t, std::uint64_t>::iterator it, std::uint64_t base, std::uint64_t size) {
    const std::uint64_t range_base = it->first;
    const std::uint64_t range_end = it->first + it->second;
    ranges_.erase(it);
    if (range_base < base) ranges_.emplace(range_base, base - range_base);
    if (base + size < range_end) ranges_.emplace(base + size, range_end - (base + size));
    total_ -= size;
}

std::optional<std::uint64_t> FreeRanges::take(std::uint64_t size, std::uint64_t align) {
    assert(align != 0 && (align & (align - 1)) == 0);
    if (size == 0) return std::nullopt;
    for (auto it = ranges_.begin(); it != ranges_.end(); ++it) {
        const std::uint64_t range_end = it->first + it->second;
        const std::uint64_t aligned = (it->first + (align - 1)) & ~(align - 1);
        if (aligned < it->first) continue;  // wrapped past the top
        if (aligned >= range_end || range_end - aligned < size) continue;
        carve(it, aligned, size);
        return aligned;
    }
    return std::nullopt;
}

bool FreeRanges::take_at(std::uint64_t base, std::uint64_t size) {
    if (size == 0) return false;
    auto it = ranges_.upper_bound(base);
    if (it == ranges_.begin()) return false;
    --it;
    if (base - it->first > it->second || it->second - (base - it->first) < size) return false;
    carve(it, base, size);
    return true;
}

bool FreeRanges::is_free(std::uint64_t base, std::uint64_t size) const {
    auto it = ranges_.upper_bound(base);
    if (it == ranges_.begin()) return false;
    --it;
    return base - it->first <= it->second && it->second - (base - it->first) >= size;
}

std::optional<Range> FreeRanges::largest() const {
    std::optional<Range> best;
    for (const auto& [base, size] : ranges_) {
        if (!best || size > best->size) best = Range{base, size};
    }
    return best;
}

bool FreeRanges::overlaps(std::uint64_t base, std::uint64_t size) const {
    if (size == 0) return false;
    const std::uint64_t end = base + size;
    auto next = ranges_.lower_bound(base);
    if (next != ranges_.end() && next->first < end) return true;
    if (next == ranges_.begin()) return false;
    auto prev = std::prev(next);
    return prev->first + prev->second > base;
}

std::uint64_t FreeRanges::take_within(std::uint64_t base, std::uint64_t size) {
    if (size == 0) return 0;
    const std::uint64_t end = base + size;
    std::uint64_t taken = 0;
    // Start at the range that may begin before base and still reach into it.
    auto it = ranges_.upper_bound(base);
    if (it != ranges_.begin()) --it;
    while (it != ranges_.end() && it->first < end) {
        const std::uint64_t lo = std::max(it->first, base);
        const std::uint64_t hi = std::min(it->first + it->second, end);
        auto next = std::next(it);
        if (lo < hi) {
            carve(it, lo, hi - lo);  // erases it; next stays valid (std::map)
            taken += hi - lo;
        }
        it = next;
    }
    return taken;
}

std::vector<Range> FreeRanges::ranges() const {
    std::vector<Range> out;
    out.reserve(ranges_.size());
    for (const auto& [base, size] : ranges_) out.push_back(Range{base, size});
    return out;
}

}  // namespace guestmem
