// SPDX-License-Identifier: BSD-2-Clause
// The core additions snapshots need: Vm::reserve_anon_at,
// GuestRam::register_anon_at, the kind of a reservation in ReservationInfo.
#include <gtest/gtest.h>

#include "snapshot_test_support.hpp"

namespace guestmem {
namespace {

using test::SimVm;

TEST(ReserveAnonAt, TakesExactlyTheRangeFromItsPool) {
    SimVm t;
    ASSERT_TRUE(t.vm->make_anon(0x100000, 0x100000));
    auto id = t.vm->reserve_anon_at(0x140000, 0x2000, test::returns(FaultResult::handled));
    ASSERT_TRUE(id) << id.error().message;
    auto infos = t.vm->reservations();
    ASSERT_EQ(infos.size(), 1u);
    EXPECT_EQ(infos[0].range, (Range{0x140000, 0x2000}));
    EXPECT_TRUE(infos[0].anonymous);
    EXPECT_EQ(t.vm->pools()[0].free_bytes, 0x100000u - 0x2000);
    EXPECT_EQ(t.vm->reserve_anon_at(0x141000, 0x1000, test::returns(FaultResult::handled)).code(), Errc::overlap);
    EXPECT_EQ(t.vm->reserve_anon_at(0x1ff000, 0x2000, test::returns(FaultResult::handled)).code(), Errc::no_space);
    EXPECT_EQ(t.vm->reserve_anon_at(0x150001, 0x1000, test::returns(FaultResult::handled)).code(),
              Errc::invalid_argument);
    EXPECT_EQ(t.vm->reserve_anon_at(0x150000, 0x1000, nullptr).code(), Errc::invalid_argument);
    ASSERT_TRUE(t.vm->free(*id));
    EXPECT_EQ(t.vm->pools()[0].free_bytes, 0x100000u) << "freed space returns to the pool";
    EXPECT_EQ(t.vm->reservations().size(), 0u);
}

TEST(RegisterAnonAt, RegistersRamInsideAPool) {
    SimVm t;
    ASSERT_TRUE(t.vm->make_anon(0x100000, 0x100000));
    Cap frame = t.frame();
    ASSERT_TRUE(t.vm->ram().register_anon_at(0x180000, 0x1000, [frame](GuestAddr a) {
        return FrameRequest{frame, Rights::read_write, a, 12};
    }));
    EXPECT_EQ(t.vm->ram().regions(), (std::vector<Range>{{0x180000, 0x1000}}));
    ASSERT_TRUE(sim::write(*t.vcpu, 0x180010, 8, 5));
    EXPECT_EQ(*sim::read(*t.vcpu, 0x180010, 8), 5u);
    EXPECT_TRUE(t.vm->reservations()[0].anonymous);
    EXPECT_EQ(t.vm->ram().register_anon_at(0x180000, 0x1000, [](GuestAddr) { return FrameRequest{}; }).code(),
              Errc::overlap);
    EXPECT_EQ(t.vm->ram().regions().size(), 1u);
}

TEST(ReservationInfo, NamesDoorbellsTheirMatchAndWritePosting) {
    SimVm t;
    auto bell = t.vm->reserve_doorbell(
        0x1000, 4, [](std::uint64_t) {}, 9);
    auto plain = t.vm->reserve_doorbell(0x2000, 2, [](std::uint64_t) {});
    auto posted = t.vm->reserve_write_posting(0x3000, 0x10, test::returns(FaultResult::handled));
    ASSERT_TRUE(bell && plain && posted);
    auto infos = t.vm->reservations();
    ASSERT_EQ(infos.size(), 3u);
    EXPECT_TRUE(infos[0].doorbell);
    EXPECT_EQ(infos[0].doorbell_match, std::optional<std::uint64_t>(9));
    EXPECT_TRUE(infos[1].doorbell);
    EXPECT_EQ(infos[1].doorbell_match, std::nullopt);
    EXPECT_FALSE(infos[2].doorbell);
    EXPECT_TRUE(infos[2].write_posting);
    ASSERT_TRUE(t.vm->free(*bell));
    auto again = t.vm->reserve_doorbell(0x1000, 4, [](std::uint64_t) {});
    ASSERT_TRUE(again);
    EXPECT_EQ(t.vm->reservations()[0].doorbell_match, std::nullopt) << "the freed doorbell's match is gone";
}

}  // namespace
}  // namespace guestmem
