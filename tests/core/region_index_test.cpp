// SPDX-License-Identifier: BSD-2-Clause
// RegionIndex and RegionSnapshot (src/core/region_index.*): the search of the
// B+-tree against a linear scan, the last-found check, and pinning.
#include <gtest/gtest.h>

#include <cstdint>
#include <map>
#include <memory>
#include <vector>

#include "region_index.hpp"
#include "reservation.hpp"

using namespace guestmem;

namespace {

std::shared_ptr<Reservation> make_reservation(GuestAddr base, std::uint64_t size) {
    static std::uint64_t next_id = 1;
    return std::make_shared<Reservation>(
        ReservationId{next_id++}, Range{base, size}, [](Fault&) { return FaultResult::error; }, false);
}

/// n reservations of uneven sizes with gaps of uneven sizes between them.
std::map<GuestAddr, std::shared_ptr<Reservation>> uneven_layout(std::size_t n, GuestAddr first = 0x10000) {
    std::map<GuestAddr, std::shared_ptr<Reservation>> live;
    GuestAddr at = first;
    for (std::size_t i = 0; i < n; ++i) {
        const std::uint64_t size = 0x1000 * (1 + i % 3);
        live.emplace(at, make_reservation(at, size));
        at += size + 0x1000 * (i % 2);  // every other one is followed by a gap
    }
    return live;
}

Reservation* linear_find(const std::map<GuestAddr, std::shared_ptr<Reservation>>& live, GuestAddr addr) {
    for (const auto& [base, r] : live) {
        if (r->range().contains(addr)) return r.get();
    }
    return nullptr;
}

}  // namespace

TEST(RegionSnapshot, AgreesWithALinearScanForEveryTreeShape) {
    // Sizes around 8 * 9^k (one more level) and multiples of 8 and 9 exercise
    // full, partial and single-child last nodes at every level of the tree.
    for (std::size_t n : {0u,  1u,  2u,  3u,   7u,   8u,   9u,   16u,  17u,   71u,   72u,  73u,
                          80u, 81u, 82u, 100u, 647u, 648u, 649u, 657u, 1000u, 5832u, 5833u}) {
        SCOPED_TRACE(testing::Message() << n << " reservations");
        const auto live = uneven_layout(n);
        const RegionSnapshot snapshot(live);
        ASSERT_EQ(snapshot.size(), n);
        std::vector<GuestAddr> probes{0, 0xffff, UINT64_MAX, UINT64_MAX - 1};
        for (const auto& [base, r] : live) {
            const GuestAddr end = r->range().end();
            for (GuestAddr a : {base - 1, base, base + 1, base + 0x7ff, end - 1, end, end + 0xfff}) probes.push_back(a);
        }
        for (GuestAddr a : probes) ASSERT_EQ(snapshot.find(a), linear_find(live, a)) << std::hex << a;
    }
}

TEST(RegionSnapshot, ReservationsAtBothEndsOfTheAddressSpace) {
    std::map<GuestAddr, std::shared_ptr<Reservation>> live;
    live.emplace(0, make_reservation(0, 0x1000));
    live.emplace(0x8000, make_reservation(0x8000, 0x1000));
    live.emplace(UINT64_MAX - 0xfff, make_reservation(UINT64_MAX - 0xfff, 0x1000));  // its last address is 2^64 - 1
    const RegionSnapshot snapshot(live);
    EXPECT_EQ(snapshot.find(0), live.at(0).get());
    EXPECT_EQ(snapshot.find(0xfff), live.at(0).get());
    EXPECT_EQ(snapshot.find(0x1000), nullptr);
    EXPECT_EQ(snapshot.find(0x8800), live.at(0x8000).get());
    EXPECT_EQ(snapshot.find(UINT64_MAX - 0x1000), nullptr);
    EXPECT_EQ(snapshot.find(UINT64_MAX - 0xfff), live.at(UINT64_MAX - 0xfff).get());
    EXPECT_EQ(snapshot.find(UINT64_MAX), live.at(UINT64_MAX - 0xfff).get());
}

TEST(RegionIndex, LookupRemembersTheLastReservationUntilTheIndexChanges) {
    RegionIndex index;
    auto a = make_reservation(0x1000, 0x1000);
    auto b = make_reservation(0x3000, 0x2000);
    index.insert(a);
    index.insert(b);
    LookupCache cache;
    EXPECT_EQ(index.lookup(cache, 0x1800), a.get());
    EXPECT_EQ(cache.last_found, a.get());
    EXPECT_EQ(index.lookup(cache, 0x1fff), a.get());  // answered by the last-found check
    EXPECT_EQ(index.lookup(cache, 0x2000), nullptr);  // just past it: searched, a gap
    EXPECT_EQ(index.lookup(cache, 0x4fff), b.get());
    EXPECT_EQ(cache.last_found, b.get());
    EXPECT_EQ(index.lookup(cache, 0x5000), nullptr);

    index.erase(0x3000);  // b leaves the index: the cache must not answer from memory
    EXPECT_EQ(index.lookup(cache, 0x4000), nullptr);
    EXPECT_EQ(index.lookup(cache, 0x1000), a.get());
}

TEST(RegionIndex, APinnedCacheKeepsReplacedSnapshotsUntilUnpinned) {
    RegionIndex index;
    auto a = make_reservation(0x1000, 0x1000);
    index.insert(a);
    LookupCache cache;
    std::weak_ptr<const RegionSnapshot> first;
    {
        const SnapshotPin outer(cache);
        ASSERT_EQ(index.lookup(cache, 0x1000), a.get());
        first = cache.snapshot;
        index.erase(0x1000);
        a.reset();  // only the snapshot holds the reservation now
        {
            const SnapshotPin nested(cache);  // a handler dispatching again on the same vCPU
            EXPECT_EQ(index.lookup(cache, 0x1000), nullptr);
        }
        // The outer dispatch may still use what it found in the first snapshot.
        ASSERT_FALSE(first.expired());
        EXPECT_EQ(cache.replaced.size(), 1u);
    }
    EXPECT_TRUE(first.expired());
    EXPECT_TRUE(cache.replaced.empty());
}

TEST(RegionIndex, AnUnpinnedCacheDropsItsOldSnapshotAtOnce) {
    RegionIndex index;
    index.insert(make_reservation(0x1000, 0x1000));
    LookupCache cache;
    ASSERT_NE(index.lookup(cache, 0x1000), nullptr);
    std::weak_ptr<const RegionSnapshot> first = cache.snapshot;
    index.erase(0x1000);
    EXPECT_EQ(index.lookup(cache, 0x1000), nullptr);
    EXPECT_TRUE(first.expired());
    EXPECT_TRUE(cache.replaced.empty());
}
