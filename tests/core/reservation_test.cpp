// SPDX-License-Identifier: BSD-2-Clause
// Reservations through the C++ API: initialisation, reserve_at, region, free.
#include <gtest/gtest.h>

#include <set>

#include "test_support.hpp"

namespace guestmem {
namespace {

using test::CountingHandler;
using test::LogCapture;
using test::SimVm;
using test::returns;

/// Everything observable about an address space, to prove a rejected call changed nothing.
struct Fingerprint {
    std::vector<std::tuple<std::uint64_t, GuestAddr, std::uint64_t, bool, bool, bool, std::size_t>> reservations;
    std::vector<std::tuple<GuestAddr, std::uint64_t, std::uint64_t>> pools;

    explicit Fingerprint(const Vm& vm) {
        for (const auto& r : vm.reservations()) {
            reservations.emplace_back(static_cast<std::uint64_t>(r.id), r.range.base, r.range.size, r.anonymous,
                                      r.mapped, r.deferred, r.frames);
        }
        for (const auto& p : vm.pools()) pools.emplace_back(p.range.base, p.range.size, p.free_bytes);
    }
    bool operator==(const Fingerprint&) const = default;
};

TEST(Initialisation, EveryAddressSpaceCallFailsBeforeInitMemory) {
    LogCapture log;
    auto caps = std::make_shared<CapabilitySpace>();
    auto created = Vm::create(BackendKind::sim, caps);
    ASSERT_TRUE(created);
    std::unique_ptr<Vm> vm = std::move(*created);
    EXPECT_FALSE(vm->memory_initialized());

    auto at = vm->reserve_at(0x1000, 0x1000, returns(FaultResult::handled));
    ASSERT_FALSE(at);
    EXPECT_EQ(at.code(), Errc::not_initialized);
    EXPECT_TRUE(log.has_error("Vm::reserve_at", {"not initialised"})) << log.dump();

    auto anon_pool = vm->make_anon(0x100000, 0x10000);
    ASSERT_FALSE(anon_pool);
    EXPECT_EQ(anon_pool.code(), Errc::not_initialized);
    EXPECT_TRUE(log.has_error("Vm::make_anon", {"not initialised"})) << log.dump();

    auto anon = vm->reserve_anon(0x1000, 0, returns(FaultResult::handled));
    ASSERT_FALSE(anon);
    EXPECT_EQ(anon.code(), Errc::not_initialized);
    EXPECT_TRUE(log.has_error("Vm::reserve_anon", {"not initialised"})) << log.dump();

    const ReservationId some = static_cast<ReservationId>(1);
    EXPECT_EQ(vm->free(some).code(), Errc::not_initialized);
    EXPECT_EQ(vm->map(some, [](GuestAddr) { return FrameRequest{}; }).code(), Errc::not_initialized);
    EXPECT_EQ(vm->region(some).code(), Errc::not_initialized);
    EXPECT_TRUE(log.has_error("Vm::free", {"not initialised"})) << log.dump();
    EXPECT_TRUE(log.has_error("Vm::map", {"not initialised"})) << log.dump();
    EXPECT_TRUE(log.has_error("Vm::region", {"not initialised"})) << log.dump();
    EXPECT_TRUE(vm->reservations().empty());
    EXPECT_TRUE(vm->pools().empty());

    ASSERT_TRUE(vm->init_memory());
    EXPECT_TRUE(vm->memory_initialized());
    EXPECT_TRUE(vm->reserve_at(0x1000, 0x1000, returns(FaultResult::handled)));
}

TEST(Initialisation, ASecondInitFailsAndKeepsEverything) {
    LogCapture log;
    SimVm s;
    CountingHandler device;
    auto id = s.vm->reserve_at(0x1000, 0x100, device.handler());
    ASSERT_TRUE(id);
    ASSERT_TRUE(s.vm->make_anon(0x100000, 0x10000));
    auto anon = s.vm->reserve_anon(0x2000, 0, returns(FaultResult::handled));
    ASSERT_TRUE(anon);
    const Fingerprint before(*s.vm);

    auto again = s.vm->init_memory();
    ASSERT_FALSE(again);
    EXPECT_EQ(again.code(), Errc::already_initialized);
    EXPECT_TRUE(log.has_error("Vm::init_memory", {"already initialised"})) << log.dump();

    EXPECT_EQ(Fingerprint(*s.vm), before);
    EXPECT_TRUE(s.vm->memory_initialized());
    // The reservations still work and still block their ranges.
    ASSERT_TRUE(sim::read(*s.vcpu, 0x1000, 4));
    EXPECT_EQ(*device.calls, 1);
    EXPECT_EQ(s.vm->reserve_at(0x1000, 0x100, returns(FaultResult::handled)).code(), Errc::overlap);
    EXPECT_EQ(s.vm->region(*id).value(), (Range{0x1000, 0x100}));
    EXPECT_TRUE(s.vm->free(anon->id));
}

TEST(Reservation, RegionReportsTheRange) {
    SimVm s;
    auto id = s.vm->reserve_at(0x12345, 0x678, returns(FaultResult::handled));
    ASSERT_TRUE(id);
    EXPECT_EQ(s.vm->region(*id).value(), (Range{0x12345, 0x678}));
    auto infos = s.vm->reservations();
    ASSERT_EQ(infos.size(), 1u);
    EXPECT_EQ(infos[0].id, *id);
    EXPECT_EQ(infos[0].range, (Range{0x12345, 0x678}));
    EXPECT_FALSE(infos[0].anonymous);
    EXPECT_FALSE(infos[0].mapped);
    EXPECT_FALSE(infos[0].deferred);
}

TEST(Reservation, TwoDevicesMayShareOnePageAtByteGranularity) {
    SimVm s;
    std::vector<GuestAddr> a_seen, b_seen;
    auto a = s.vm->reserve_at(0x1000, 4, [&](Fault& f) {
        a_seen.push_back(f.address());
        f.set_data(0xaaaa'aaaa);
        return FaultResult::handled;
    });
    auto b = s.vm->reserve_at(0x1004, 3, [&](Fault& f) {
        b_seen.push_back(f.address());
        f.set_data(0xbbbb'bbbb);
        return FaultResult::handled;
    });
    ASSERT_TRUE(a);
    ASSERT_TRUE(b);
    EXPECT_EQ(sim::read(*s.vcpu, 0x1000, 4).value(), 0xaaaa'aaaau);
    EXPECT_EQ(sim::read(*s.vcpu, 0x1003, 1).value(), 0xaau);
    EXPECT_EQ(sim::read(*s.vcpu, 0x1004, 2).value(), 0xbbbbu);
    EXPECT_EQ(sim::read(*s.vcpu, 0x1006, 1).value(), 0xbbu);
    EXPECT_EQ(a_seen, (std::vector<GuestAddr>{0x1000, 0x1003}));
    EXPECT_EQ(b_seen, (std::vector<GuestAddr>{0x1004, 0x1006}));
    // A third device fits exactly in the byte left between b and the next one.
    EXPECT_TRUE(s.vm->reserve_at(0x1007, 1, returns(FaultResult::handled)));
    EXPECT_TRUE(s.vm->reserve_at(0x1008, 0xff8, returns(FaultResult::handled)));
    EXPECT_EQ(s.vm->reservations().size(), 4u);
}

struct OverlapCase {
    const char* name;
    GuestAddr addr;
    std::uint64_t size;
};

class ReservationOverlap : public ::testing::TestWithParam<OverlapCase> {};

TEST_P(ReservationOverlap, IsRejectedAndChangesNothing) {
    LogCapture log;
    SimVm s;
    ASSERT_TRUE(s.vm->reserve_at(0x10000, 0x1000, returns(FaultResult::handled)));
    ASSERT_TRUE(s.vm->make_anon(0x100000, 0x4000));
    const Fingerprint before(*s.vm);
    auto id = s.vm->reserve_at(GetParam().addr, GetParam().size, returns(FaultResult::handled));
    ASSERT_FALSE(id);
    EXPECT_EQ(id.code(), Errc::overlap);
    EXPECT_TRUE(log.has_error("Vm::reserve_at", {"overlaps"})) << log.dump();
    EXPECT_EQ(Fingerprint(*s.vm), before);
}

INSTANTIATE_TEST_SUITE_P(
    Shapes, ReservationOverlap,
    ::testing::Values(OverlapCase{"same", 0x10000, 0x1000}, OverlapCase{"inside", 0x10800, 0x10},
                      OverlapCase{"covering", 0xf000, 0x3000}, OverlapCase{"over_start", 0xff00, 0x101},
                      OverlapCase{"over_end", 0x10fff, 0x10}, OverlapCase{"last_byte", 0x10fff, 1},
                      OverlapCase{"pool_inside", 0x101000, 0x1000}, OverlapCase{"pool_start", 0xff000, 0x1001},
                      OverlapCase{"pool_end", 0x103fff, 0x2}, OverlapCase{"both", 0x10000, 0x100000}),
    [](const auto& info) { return std::string(info.param.name); });

TEST(Reservation, AdjacentRangesDoNotOverlap) {
    SimVm s;
    ASSERT_TRUE(s.vm->reserve_at(0x10000, 0x1000, returns(FaultResult::handled)));
    ASSERT_TRUE(s.vm->make_anon(0x20000, 0x1000));
    EXPECT_TRUE(s.vm->reserve_at(0xf000, 0x1000, returns(FaultResult::handled)));
    EXPECT_TRUE(s.vm->reserve_at(0x11000, 0x1000, returns(FaultResult::handled)));
    EXPECT_TRUE(s.vm->reserve_at(0x1f000, 0x1000, returns(FaultResult::handled)));
    EXPECT_TRUE(s.vm->reserve_at(0x21000, 0x1000, returns(FaultResult::handled)));
}

TEST(Reservation, ZeroSizeWrappingAndEmptyHandlerAreRejected) {
    LogCapture log;
    SimVm s;
    const Fingerprint before(*s.vm);

    auto zero = s.vm->reserve_at(0x1000, 0, returns(FaultResult::handled));
    ASSERT_FALSE(zero);
    EXPECT_EQ(zero.code(), Errc::invalid_argument);
    EXPECT_TRUE(log.has_error("Vm::reserve_at", {"size is 0"})) << log.dump();

    auto wraps = s.vm->reserve_at(0xffff'ffff'ffff'f000ull, 0x2000, returns(FaultResult::handled));
    ASSERT_FALSE(wraps);
    EXPECT_EQ(wraps.code(), Errc::invalid_argument);
    EXPECT_TRUE(log.has_error("Vm::reserve_at", {"wraps"})) << log.dump();

    // One byte past 2^64 wraps; ending exactly at 2^64 does not (access_split_test.cpp).
    EXPECT_FALSE(s.vm->reserve_at(0xffff'ffff'ffff'f000ull, 0x1001, returns(FaultResult::handled)));

    auto empty = s.vm->reserve_at(0x1000, 0x1000, FaultHandler{});
    ASSERT_FALSE(empty);
    EXPECT_EQ(empty.code(), Errc::invalid_argument);
    EXPECT_TRUE(log.has_error("Vm::reserve_at", {"NULL"})) << log.dump();

    EXPECT_EQ(Fingerprint(*s.vm), before);
    // The highest range that does not wrap is fine.
    EXPECT_TRUE(s.vm->reserve_at(0xffff'ffff'ffff'f000ull, 0xfff, returns(FaultResult::handled)));
}

TEST(Reservation, FreeingUnknownFreedOrForeignIdsFailsAndChangesNothing) {
    LogCapture log;
    SimVm s;
    SimVm other(s.caps);
    auto mine = s.vm->reserve_at(0x1000, 0x1000, returns(FaultResult::handled));
    auto gone = s.vm->reserve_at(0x2000, 0x1000, returns(FaultResult::handled));
    auto foreign = other.vm->reserve_at(0x3000, 0x1000, returns(FaultResult::handled));
    ASSERT_TRUE(mine && gone && foreign);
    ASSERT_TRUE(s.vm->free(*gone));
    const Fingerprint before(*s.vm);
    const Fingerprint other_before(*other.vm);

    for (ReservationId bad : {*gone, *foreign, ReservationId::none, static_cast<ReservationId>(~0ull)}) {
        auto freed = s.vm->free(bad);
        ASSERT_FALSE(freed);
        EXPECT_EQ(freed.code(), Errc::unknown_reservation);
        EXPECT_EQ(s.vm->region(bad).code(), Errc::unknown_reservation);
    }
    EXPECT_TRUE(log.has_error("Vm::free", {"unknown or already freed"})) << log.dump();
    EXPECT_EQ(Fingerprint(*s.vm), before);
    EXPECT_EQ(Fingerprint(*other.vm), other_before);
    EXPECT_TRUE(other.vm->region(*foreign)) << "the other VM's reservation is untouched";
    EXPECT_TRUE(s.vm->free(*mine));
}

TEST(Reservation, AFreedRangeFaultsToTheUnhandledHandlerAndCanBeReservedAgain) {
    SimVm s;
    CountingHandler device, unhandled;
    auto id = s.vm->reserve_at(0x1000, 0x1000, device.handler());
    ASSERT_TRUE(id);
    s.vm->set_unhandled_fault_handler(unhandled.handler());
    ASSERT_TRUE(sim::write(*s.vcpu, 0x1000, 4, 1));
    ASSERT_TRUE(s.vm->free(*id));
    ASSERT_TRUE(sim::write(*s.vcpu, 0x1000, 4, 1));
    EXPECT_EQ(*device.calls, 1) << "a freed reservation's handler is never called again";
    EXPECT_EQ(*unhandled.calls, 1);
    EXPECT_TRUE(s.vm->reservations().empty());

    auto again = s.vm->reserve_at(0x1000, 0x1000, device.handler());
    ASSERT_TRUE(again);
    EXPECT_NE(*again, *id) << "reservation ids are never reused";
    ASSERT_TRUE(sim::read(*s.vcpu, 0x1000, 4));
    EXPECT_EQ(*device.calls, 2);
}

TEST(Reservation, IdsAreNeverReusedAcrossVms) {
    auto caps = std::make_shared<CapabilitySpace>();
    SimVm a(caps), b(caps);
    std::set<ReservationId> ids;
    for (int i = 0; i < 32; ++i) {
        auto x = a.vm->reserve_at(0x1000, 0x1000, returns(FaultResult::handled));
        auto y = b.vm->reserve_at(0x1000, 0x1000, returns(FaultResult::handled));
        ASSERT_TRUE(x && y);
        ids.insert(*x);
        ids.insert(*y);
        ASSERT_TRUE(a.vm->free(*x));
        ASSERT_TRUE(b.vm->free(*y));
    }
    EXPECT_EQ(ids.size(), 64u);
    EXPECT_EQ(ids.count(ReservationId::none), 0u);
}

TEST(Reservation, ReservationsAreListedInAddressOrder) {
    SimVm s;
    for (GuestAddr addr : {0x9000ull, 0x1000ull, 0x5000ull}) {
        ASSERT_TRUE(s.vm->reserve_at(addr, 0x100, returns(FaultResult::handled)));
    }
    auto infos = s.vm->reservations();
    ASSERT_EQ(infos.size(), 3u);
    EXPECT_EQ(infos[0].range.base, 0x1000u);
    EXPECT_EQ(infos[1].range.base, 0x5000u);
    EXPECT_EQ(infos[2].range.base, 0x9000u);
}

TEST(ScopedReservation, FreesOnScopeExitUnlessReleased) {
    SimVm s;
    ReservationId kept;
    {
        ScopedReservation scoped(*s.vm, *s.vm->reserve_at(0x1000, 0x1000, returns(FaultResult::handled)));
        ScopedReservation moved = std::move(scoped);
        EXPECT_EQ(scoped.id(), ReservationId::none);
        ScopedReservation released(*s.vm, *s.vm->reserve_at(0x2000, 0x1000, returns(FaultResult::handled)));
        kept = released.release();
        EXPECT_EQ(s.vm->reservations().size(), 2u);
    }
    auto infos = s.vm->reservations();
    ASSERT_EQ(infos.size(), 1u);
    EXPECT_EQ(infos[0].id, kept);
}

}  // namespace
}  // namespace guestmem
