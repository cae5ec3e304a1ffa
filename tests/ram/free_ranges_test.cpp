// The merged range set's queries guest RAM relies on.
#include <gtest/gtest.h>

#include "free_ranges.hpp"

using guestmem::FreeRanges;
using guestmem::Range;

TEST(FreeRangesForRam, OverlapsAnyFreeByte) {
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

TEST(FreeRangesForRam, TakeWithinSplitsAndSpans) {
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
