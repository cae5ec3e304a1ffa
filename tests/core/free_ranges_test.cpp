// SPDX-License-Identifier: BSD-2-Clause
// FreeRanges: the allocator behind anonymous pools and frame arenas, and the
// merged range set behind guest RAM.
#include <gtest/gtest.h>

#include <cstdint>
#include <optional>
#include <vector>

#include "free_ranges.hpp"

namespace guestmem {
namespace {

TEST(FreeRanges, StartsEmptyAndHandsOutNothing) {
    FreeRanges free;
    EXPECT_EQ(free.total(), 0u);
    EXPECT_EQ(free.fragments(), 0u);
    EXPECT_EQ(free.take(0x1000, 0x1000), std::nullopt);
    EXPECT_FALSE(free.is_free(0, 1));
    EXPECT_FALSE(free.largest().has_value());
}

TEST(FreeRanges, AddMergesWithBothNeighbours) {
    FreeRanges free;
    free.add(0x1000, 0x1000);
    free.add(0x3000, 0x1000);
    EXPECT_EQ(free.fragments(), 2u);
    EXPECT_FALSE(free.is_free(0x1000, 0x3000));
    free.add(0x2000, 0x1000);  // fills the gap: one range
    EXPECT_EQ(free.fragments(), 1u);
    EXPECT_EQ(free.total(), 0x3000u);
    EXPECT_TRUE(free.is_free(0x1000, 0x3000));
    EXPECT_EQ(free.largest(), (Range{0x1000, 0x3000}));
}

TEST(FreeRanges, AddOfZeroBytesChangesNothing) {
    FreeRanges free;
    free.add(0x1000, 0);
    EXPECT_EQ(free.fragments(), 0u);
    EXPECT_EQ(free.total(), 0u);
}

TEST(FreeRanges, TakeIsLowestFitAtTheAlignment) {
    FreeRanges free;
    free.add(0x1000, 0x10000);  // [0x1000, 0x11000)
    EXPECT_EQ(free.take(0x1000, 0x4000), std::optional<std::uint64_t>(0x4000));
    // The space below the aligned block stays free and is used first.
    EXPECT_EQ(free.take(0x3000, 0x1000), std::optional<std::uint64_t>(0x1000));
    EXPECT_EQ(free.total(), 0x10000u - 0x4000u);
    EXPECT_EQ(free.fragments(), 1u);
    EXPECT_TRUE(free.is_free(0x5000, 0xc000));
}

TEST(FreeRanges, TakeNeverExtendsPastARangesEnd) {
    FreeRanges free;
    free.add(0x1000, 0x3000);  // [0x1000, 0x4000)
    EXPECT_EQ(free.take(0x1000, 0x4000), std::nullopt) << "0x4000 is the end: nothing aligned fits";
    EXPECT_EQ(free.take(0x4000, 0x1000), std::nullopt) << "larger than the range";
    EXPECT_EQ(free.total(), 0x3000u) << "failed takes change nothing";
    EXPECT_EQ(free.take(0x2000, 0x2000), std::optional<std::uint64_t>(0x2000));
    EXPECT_EQ(free.take(0x1000, 0x1000), std::optional<std::uint64_t>(0x1000));
    EXPECT_EQ(free.total(), 0u);
}

TEST(FreeRanges, TakeDoesNotSpanTwoRangesThatDoNotTouch) {
    FreeRanges free;
    free.add(0x0000, 0x1000);
    free.add(0x2000, 0x1000);
    EXPECT_EQ(free.take(0x2000, 0x1000), std::nullopt);
}

TEST(FreeRanges, TakeOfZeroBytesFails) {
    FreeRanges free;
    free.add(0, 0x1000);
    EXPECT_EQ(free.take(0, 0x1000), std::nullopt);
    EXPECT_EQ(free.total(), 0x1000u);
}

TEST(FreeRanges, HugeAlignmentNearTheTopDoesNotWrap) {
    FreeRanges free;
    const std::uint64_t base = 0xffff'ffff'ffff'e000ull;
    free.add(base, 0x1000);
    // base rounded up to 2^63 wraps past the top; a naive check would accept 0.
    EXPECT_EQ(free.take(0x1000, std::uint64_t{1} << 63), std::nullopt);
    EXPECT_EQ(free.total(), 0x1000u);
    EXPECT_EQ(free.take(0x1000, 0x1000), std::optional<std::uint64_t>(base));
}

TEST(FreeRanges, TakeAtTakesExactlyThatRange) {
    FreeRanges free;
    free.add(0, 0x10000);
    EXPECT_TRUE(free.take_at(0x2000, 0x1000));
    EXPECT_FALSE(free.is_free(0x2000, 1));
    EXPECT_TRUE(free.is_free(0x1000, 0x1000));
    EXPECT_TRUE(free.is_free(0x3000, 0xd000));
    EXPECT_FALSE(free.take_at(0x2000, 0x1000)) << "already taken";
    EXPECT_FALSE(free.take_at(0x1000, 0x2000)) << "partly taken";
    EXPECT_FALSE(free.take_at(0xf000, 0x2000)) << "past the end";
    EXPECT_FALSE(free.take_at(0x3000, 0)) << "zero bytes";
    EXPECT_TRUE(free.take_at(0xf000, 0x1000));
    EXPECT_EQ(free.total(), 0x10000u - 0x2000u);
    EXPECT_EQ(free.fragments(), 2u);
}

TEST(FreeRanges, IsFreeAtTheBoundaries) {
    FreeRanges free;
    free.add(0x1000, 0x1000);
    EXPECT_TRUE(free.is_free(0x1000, 0x1000));
    EXPECT_TRUE(free.is_free(0x1fff, 1));
    EXPECT_FALSE(free.is_free(0x0fff, 1));
    EXPECT_FALSE(free.is_free(0x2000, 1));
    EXPECT_FALSE(free.is_free(0x1001, 0x1000));
}

TEST(FreeRanges, LargestPrefersTheLowestOnTies) {
    FreeRanges free;
    free.add(0x9000, 0x2000);
    free.add(0x1000, 0x2000);
    free.add(0x5000, 0x1000);
    EXPECT_EQ(free.largest(), (Range{0x1000, 0x2000}));
    free.add(0xc000, 0x3000);
    EXPECT_EQ(free.largest(), (Range{0xc000, 0x3000}));
}

TEST(FreeRanges, GivingEverythingBackRestoresOneRange) {
    FreeRanges free;
    free.add(0x100000, 0x100000);
    std::vector<std::pair<std::uint64_t, std::uint64_t>> taken;
    for (std::uint64_t size : {0x1000ull, 0x3000ull, 0x10000ull, 0x1000ull, 0x20000ull}) {
        auto at = free.take(size, size >= 0x10000 ? 0x10000 : 0x1000);
        ASSERT_TRUE(at.has_value());
        taken.emplace_back(*at, size);
    }
    // Give back in an order that exercises merging on either side.
    for (std::size_t i : {2u, 0u, 4u, 1u, 3u}) free.add(taken[i].first, taken[i].second);
    EXPECT_EQ(free.fragments(), 1u);
    EXPECT_EQ(free.total(), 0x100000u);
    EXPECT_TRUE(free.is_free(0x100000, 0x100000));
}

// The queries guest RAM relies on.

TEST(FreeRanges, OverlapsAnyFreeByte) {
    FreeRanges set;
    set.add(0x1000, 0x1000);
    set.add(0x4000, 0x1000);
    EXPECT_FALSE(set.overlaps(0, 0x1000));
    EXPECT_TRUE(set.overlaps(0, 0x1001));
    EXPECT_TRUE(set.overlaps(0x1fff, 1));
    EXPECT_FALSE(set.overlaps(0x2000, 0x2000));
    EXPECT_TRUE(set.overlaps(0x2000, 0x2001));
    EXPECT_TRUE(set.overlaps(0, 0x10000));
    EXPECT_FALSE(set.overlaps(0x5000, 0x1000));
    EXPECT_FALSE(set.overlaps(0x1000, 0));
}

TEST(FreeRanges, TakeWithinSplitsAndSpans) {
    FreeRanges set;
    set.add(0x1000, 0x3000);  // [0x1000, 0x4000)
    set.add(0x5000, 0x1000);  // [0x5000, 0x6000)
    set.add(0x8000, 0x1000);  // [0x8000, 0x9000)
    EXPECT_EQ(set.take_within(0x2000, 0x6800), 0x2000u + 0x1000 + 0x800);
    const std::vector<Range> expected{{0x1000, 0x1000}, {0x8800, 0x800}};
    EXPECT_EQ(set.ranges(), expected);
    EXPECT_EQ(set.total(), 0x1800u);
    EXPECT_EQ(set.take_within(0x3000, 0x1000), 0u);
    EXPECT_EQ(set.take_within(0x1400, 0x100), 0x100u);  // splits one range in three parts' middle
    EXPECT_EQ(set.fragments(), 3u);
    set.add(0x1400, 0x100);
    EXPECT_EQ(set.fragments(), 2u) << "adding back merges";
}

}  // namespace
}  // namespace guestmem
