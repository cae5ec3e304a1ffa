#include "free_ranges.hpp"

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

void FreeRanges::carve(std::map<std::uint64_t, std::uint64_t>::iterator it, std::uint64_t base,
                       std::uint64_t size) {
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

}  // namespace guestmem
