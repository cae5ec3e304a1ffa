// SPDX-License-Identifier: BSD-2-Clause
// HugePageAllocator (src/core/huge_page_allocator.hpp): large arrays on their
// own 2 MiB-aligned mappings, small ones from std::allocator.
#include <gtest/gtest.h>

#include <cstdint>
#include <vector>

#include "huge_page_allocator.hpp"

using guestmem::HugePageAllocator;

namespace {

bool huge_aligned(const void* p) {
    return reinterpret_cast<std::uintptr_t>(p) % HugePageAllocator<char>::kHugePage == 0;
}

}  // namespace

TEST(HugePageAllocator, LargeArraysStartOnA2MiBBoundaryAndHoldTheirValues) {
    constexpr std::size_t kCount = HugePageAllocator<std::uint64_t>::kThreshold / sizeof(std::uint64_t) * 5;
    std::vector<std::uint64_t, HugePageAllocator<std::uint64_t>> big(kCount);
    EXPECT_TRUE(huge_aligned(big.data()));
    for (std::size_t i = 0; i < big.size(); ++i) big[i] = i * 3;
    // Growing past the threshold and the rounding moves the array to a new mapping.
    big.resize(kCount * 2, 7);
    EXPECT_TRUE(huge_aligned(big.data()));
    for (std::size_t i = 0; i < kCount; ++i) ASSERT_EQ(big[i], i * 3);
    EXPECT_EQ(big.back(), 7u);
    big.clear();
    big.shrink_to_fit();
    EXPECT_EQ(big.capacity(), 0u);
}

TEST(HugePageAllocator, SmallArraysComeFromTheHeap) {
    std::vector<int, HugePageAllocator<int>> small(100, 5);
    EXPECT_EQ(small[99], 5);
    small.resize(HugePageAllocator<int>::kThreshold / sizeof(int) - 1, 6);  // just below the threshold
    EXPECT_EQ(small.back(), 6);
}

TEST(HugePageAllocator, AnImpossibleSizeThrowsBadAlloc) {
    HugePageAllocator<std::uint64_t> allocator;
    EXPECT_THROW((void)allocator.allocate(SIZE_MAX / 8), std::bad_alloc);  // rounding up would wrap
    EXPECT_THROW((void)allocator.allocate(SIZE_MAX / 16 - 1), std::bad_alloc);
    EXPECT_THROW((void)allocator.allocate(std::size_t{1} << 60), std::bad_alloc);  // 8 EiB: mmap refuses
}
