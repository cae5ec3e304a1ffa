// SPDX-License-Identifier: BSD-2-Clause
// Anonymous pools (make_anon) and anonymous reservations (reserve_anon).
#include <gtest/gtest.h>

#include "anon_pool.hpp"
#include "test_support.hpp"

namespace guestmem {
namespace {

using test::CountingHandler;
using test::LogCapture;
using test::SimVm;
using test::returns;

constexpr std::uint64_t kPage = kPageSize;

TEST(AnonPool, AllocatesInsideItsRangeAndTakesSpaceBack) {
    AnonPool pool(Range{0x10000, 0x4000});
    EXPECT_EQ(pool.free_bytes(), 0x4000u);
    auto a = pool.allocate(0x2000, 0x2000);
    ASSERT_TRUE(a);
    EXPECT_EQ(*a, 0x10000u);
    EXPECT_EQ(pool.allocate(0x4000, 0x1000), std::nullopt);
    EXPECT_EQ(pool.free_bytes(), 0x2000u);
    pool.release(Range{*a, 0x2000});
    EXPECT_EQ(pool.free_bytes(), 0x4000u);
    EXPECT_EQ(pool.allocate(0x4000, 0x1000), std::optional<GuestAddr>(0x10000));
}

TEST(MakeAnon, RequiresPageAlignmentAndANonEmptyNonWrappingRange) {
    LogCapture log;
    SimVm s;
    struct Case {
        GuestAddr addr;
        std::uint64_t size;
        const char* reason;
    };
    for (const Case& c : {Case{0x100800, 0x1000, "page aligned"}, Case{0x100000, 0x800, "page aligned"},
                          Case{0x100000, 0x1001, "page aligned"}, Case{0x100000, 0, "size is 0"},
                          Case{0xffff'ffff'ffff'f000ull, 0x2000, "wraps"}}) {
        SCOPED_TRACE(c.reason);
        auto made = s.vm->make_anon(c.addr, c.size);
        ASSERT_FALSE(made);
        EXPECT_EQ(made.code(), Errc::invalid_argument);
        EXPECT_TRUE(log.has_error("Vm::make_anon", {c.reason})) << log.dump();
    }
    EXPECT_TRUE(s.vm->pools().empty());
}

TEST(MakeAnon, PoolsNeverOverlapPoolsOrReservations) {
    LogCapture log;
    SimVm s;
    ASSERT_TRUE(s.vm->make_anon(0x100000, 0x10000));
    ASSERT_TRUE(s.vm->reserve_at(0x200800, 0x10, returns(FaultResult::handled)));
    for (auto [addr, size] : {std::pair<GuestAddr, std::uint64_t>{0x100000, 0x10000},
                              {0x10f000, 0x2000},
                              {0xff000, 0x2000},
                              {0x0, 0x200000},
                              {0x200000, 0x1000},
                              {0x1ff000, 0x10000}}) {
        auto made = s.vm->make_anon(addr, size);
        ASSERT_FALSE(made) << std::hex << addr;
        EXPECT_EQ(made.code(), Errc::overlap);
    }
    EXPECT_TRUE(log.has_error("Vm::make_anon", {"overlaps the anonymous pool"})) << log.dump();
    EXPECT_TRUE(log.has_error("Vm::make_anon", {"overlaps a reservation"})) << log.dump();
    ASSERT_EQ(s.vm->pools().size(), 1u);
    // Touching is not overlapping.
    EXPECT_TRUE(s.vm->make_anon(0x110000, 0x1000));
    EXPECT_TRUE(s.vm->make_anon(0xff000, 0x1000));
    EXPECT_TRUE(s.vm->make_anon(0x201000, 0x1000));
    EXPECT_EQ(s.vm->pools().size(), 4u);
}

TEST(ReserveAnon, RoundsSizesUpToPages) {
    SimVm s;
    ASSERT_TRUE(s.vm->make_anon(0x100000, 0x10000));
    for (auto [asked, got] : {std::pair<std::uint64_t, std::uint64_t>{1, kPage},
                              {kPage, kPage},
                              {kPage + 1, 2 * kPage},
                              {3 * kPage - 1, 3 * kPage}}) {
        auto anon = s.vm->reserve_anon(asked, 0, returns(FaultResult::handled));
        ASSERT_TRUE(anon);
        EXPECT_EQ(anon->addr % kPage, 0u);
        EXPECT_EQ(s.vm->region(anon->id).value(), (Range{anon->addr, got})) << "asked " << asked;
        ASSERT_TRUE(s.vm->free(anon->id));
    }
}

TEST(ReserveAnon, HonoursPowerOfTwoAlignmentsWithZeroMeaningPage) {
    SimVm s;
    ASSERT_TRUE(s.vm->make_anon(0x1000, 0x800000 - 0x1000));  // starts at an odd page
    for (std::uint64_t align : {0ull, 1ull, 2ull, 0x1000ull, 0x2000ull, 0x10000ull, 0x200000ull}) {
        auto anon = s.vm->reserve_anon(kPage, align, returns(FaultResult::handled));
        ASSERT_TRUE(anon) << align;
        EXPECT_EQ(anon->addr % std::max<std::uint64_t>(align, kPage), 0u) << align;
        EXPECT_GE(anon->addr, 0x1000u);
        EXPECT_LE(anon->addr + kPage, 0x800000u);
    }
}

TEST(ReserveAnon, RejectsBadArgumentsAndChangesNothing) {
    LogCapture log;
    SimVm s;
    ASSERT_TRUE(s.vm->make_anon(0x100000, 0x10000));
    struct Case {
        std::uint64_t size, align;
        bool handler;
        Errc code;
        const char* reason;
    };
    for (const Case& c : {Case{0, 0, true, Errc::invalid_argument, "size is 0"},
                          Case{kPage, 3, true, Errc::invalid_argument, "not a power of two"},
                          Case{kPage, 0x3000, true, Errc::invalid_argument, "not a power of two"},
                          Case{~0ull, 0, true, Errc::invalid_argument, "too large"},
                          Case{kPage, 0, false, Errc::invalid_argument, "NULL"},
                          Case{0x11000, 0, true, Errc::no_space, "no anonymous pool has"},
                          Case{kPage, 1ull << 63, true, Errc::no_space, "no anonymous pool has"}}) {
        SCOPED_TRACE(c.reason);
        auto anon = s.vm->reserve_anon(c.size, c.align, c.handler ? returns(FaultResult::handled) : FaultHandler{});
        ASSERT_FALSE(anon);
        EXPECT_EQ(anon.code(), c.code);
        EXPECT_TRUE(log.has_error("Vm::reserve_anon", {c.reason})) << log.dump();
    }
    EXPECT_TRUE(s.vm->reservations().empty());
    EXPECT_EQ(s.vm->pools().at(0).free_bytes, 0x10000u);
}

TEST(ReserveAnon, FailsWithoutAPool) {
    LogCapture log;
    SimVm s;
    auto anon = s.vm->reserve_anon(kPage, 0, returns(FaultResult::handled));
    ASSERT_FALSE(anon);
    EXPECT_EQ(anon.code(), Errc::no_space);
    EXPECT_TRUE(log.has_error("Vm::reserve_anon", {"no anonymous pool"})) << log.dump();
}

TEST(ReserveAnon, NeverExtendsPastAPoolsEnd) {
    LogCapture log;
    SimVm s;
    ASSERT_TRUE(s.vm->make_anon(0x1000, 0x3000));  // [0x1000, 0x4000)
    EXPECT_FALSE(s.vm->reserve_anon(4 * kPage, 0, returns(FaultResult::handled)));
    // 16 KiB alignment would put it at 0x4000, which is the pool's end.
    EXPECT_FALSE(s.vm->reserve_anon(kPage, 0x4000, returns(FaultResult::handled)));
    auto fits = s.vm->reserve_anon(2 * kPage, 0x2000, returns(FaultResult::handled));
    ASSERT_TRUE(fits);
    EXPECT_EQ(fits->addr, 0x2000u);
    EXPECT_EQ(s.vm->region(fits->id)->end(), 0x4000u);
}

TEST(ReserveAnon, NeverSpansTwoAdjacentPools) {
    LogCapture log;
    SimVm s;
    ASSERT_TRUE(s.vm->make_anon(0x10000, 0x2000));
    ASSERT_TRUE(s.vm->make_anon(0x12000, 0x2000));
    EXPECT_FALSE(s.vm->reserve_anon(3 * kPage, 0, returns(FaultResult::handled)))
        << "four free pages in two pools are not three contiguous pages of one pool";
    auto a = s.vm->reserve_anon(2 * kPage, 0, returns(FaultResult::handled));
    auto b = s.vm->reserve_anon(2 * kPage, 0, returns(FaultResult::handled));
    ASSERT_TRUE(a && b);
    EXPECT_EQ(std::set<GuestAddr>({a->addr, b->addr}), (std::set<GuestAddr>{0x10000, 0x12000}));
}

TEST(ReserveAnon, ReusesFreedSpace) {
    SimVm s;
    constexpr int kPages = 16;
    ASSERT_TRUE(s.vm->make_anon(0x40000, kPages * kPage));
    std::vector<Vm::AnonReservation> pages;
    for (int i = 0; i < kPages; ++i) {
        auto anon = s.vm->reserve_anon(kPage, 0, returns(FaultResult::handled));
        ASSERT_TRUE(anon);
        pages.push_back(*anon);
    }
    {
        LogCapture quiet;
        EXPECT_FALSE(s.vm->reserve_anon(kPage, 0, returns(FaultResult::handled))) << "the pool is full";
    }
    EXPECT_EQ(s.vm->pools().at(0).free_bytes, 0u);
    ASSERT_TRUE(s.vm->free(pages[5].id));
    EXPECT_EQ(s.vm->pools().at(0).free_bytes, kPage);
    auto reused = s.vm->reserve_anon(kPage, 0, returns(FaultResult::handled));
    ASSERT_TRUE(reused);
    EXPECT_EQ(reused->addr, pages[5].addr) << "the only free page is the freed one";
}

TEST(ReserveAnon, ReusesFreedSpaceAtTheRequestedAlignment) {
    SimVm s;
    constexpr std::uint64_t k64K = 0x10000;
    ASSERT_TRUE(s.vm->make_anon(0x100000, 16 * k64K));
    std::vector<Vm::AnonReservation> blocks;
    for (int i = 0; i < 16; ++i) {
        auto anon = s.vm->reserve_anon(k64K, k64K, returns(FaultResult::handled));
        ASSERT_TRUE(anon);
        EXPECT_EQ(anon->addr % k64K, 0u);
        blocks.push_back(*anon);
    }
    std::sort(blocks.begin(), blocks.end(), [](auto& x, auto& y) { return x.addr < y.addr; });
    ASSERT_EQ(blocks[3].addr, 0x130000u);
    // Free 0x130000..0x150000: 128 KiB, but not 128 KiB aligned.
    ASSERT_TRUE(s.vm->free(blocks[3].id));
    ASSERT_TRUE(s.vm->free(blocks[4].id));
    {
        LogCapture quiet;
        EXPECT_FALSE(s.vm->reserve_anon(2 * k64K, 2 * k64K, returns(FaultResult::handled)));
    }
    // Freeing 0x150000 too makes 0x140000..0x160000 a fit.
    ASSERT_TRUE(s.vm->free(blocks[5].id));
    auto aligned = s.vm->reserve_anon(2 * k64K, 2 * k64K, returns(FaultResult::handled));
    ASSERT_TRUE(aligned);
    EXPECT_EQ(aligned->addr, 0x140000u);
    // What is left (0x130000) is still usable at a smaller alignment.
    auto rest = s.vm->reserve_anon(k64K, k64K, returns(FaultResult::handled));
    ASSERT_TRUE(rest);
    EXPECT_EQ(rest->addr, 0x130000u);
    EXPECT_EQ(s.vm->pools().at(0).free_bytes, 0u);
}

TEST(ReserveAnon, AnonymousReservationsBlockOtherReservationsAndAreFreedIntoThePool) {
    LogCapture log;
    SimVm s;
    ASSERT_TRUE(s.vm->make_anon(0x100000, 0x10000));
    auto anon = s.vm->reserve_anon(kPage, 0, returns(FaultResult::handled));
    ASSERT_TRUE(anon);
    auto infos = s.vm->reservations();
    ASSERT_EQ(infos.size(), 1u);
    EXPECT_TRUE(infos[0].anonymous);
    // Neither the anonymous reservation nor the rest of the pool can be reserved directly.
    EXPECT_EQ(s.vm->reserve_at(anon->addr, kPage, returns(FaultResult::handled)).code(), Errc::overlap);
    ASSERT_TRUE(s.vm->free(anon->id));
    EXPECT_EQ(s.vm->reserve_at(anon->addr, kPage, returns(FaultResult::handled)).code(), Errc::overlap)
        << "freed anonymous space returns to the pool, not to the free address space";
    EXPECT_EQ(s.vm->pools().at(0).free_bytes, 0x10000u);
    EXPECT_FALSE(s.vm->free(anon->id));
}

TEST(ReserveAnon, AnonymousReservationsFaultToTheirHandlerAndCanBeMapped) {
    SimVm s;
    ASSERT_TRUE(s.vm->make_anon(0x200000, 0x400000));
    CountingHandler device;
    auto dev = s.vm->reserve_anon(0x100, 0, device.handler());
    ASSERT_TRUE(dev);
    ASSERT_TRUE(sim::write(*s.vcpu, dev->addr + 0x10, 4, 7));
    EXPECT_EQ(*device.calls, 1);

    auto ram = s.vm->reserve_anon(bytes_of(FrameSize::k2MiB), bytes_of(FrameSize::k2MiB), device.handler());
    ASSERT_TRUE(ram);
    const Cap frame = s.frame(FrameSize::k2MiB);
    const Cap frames[] = {frame};
    ASSERT_TRUE(s.vm->map_frames(ram->id, frames, 21));
    ASSERT_TRUE(sim::write(*s.vcpu, ram->addr + 0x1234, 4, 0xfeedf00d));
    EXPECT_EQ(test::peek(s.memory(frame).data() + 0x1234, 4), 0xfeedf00du);
    EXPECT_EQ(*device.calls, 1) << "mapped memory does not fault";

    // Freed and handed out again: the new reservation starts unmapped.
    const GuestAddr addr = ram->addr;
    ASSERT_TRUE(s.vm->free(ram->id));
    CountingHandler fresh;
    auto again = s.vm->reserve_anon(bytes_of(FrameSize::k2MiB), bytes_of(FrameSize::k2MiB), fresh.handler());
    ASSERT_TRUE(again);
    ASSERT_EQ(again->addr, addr);
    ASSERT_TRUE(sim::read(*s.vcpu, addr + 0x1234, 4));
    EXPECT_EQ(*fresh.calls, 1) << "the old mapping is gone";
    EXPECT_TRUE(s.caps->lookup(frame)) << "freeing did not delete the caller's capability";
}

}  // namespace
}  // namespace guestmem
