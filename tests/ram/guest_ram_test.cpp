// SPDX-License-Identifier: BSD-2-Clause
// guestmem::GuestRam: registration, allocation bookkeeping, merging, errors.
#include <gtest/gtest.h>

#include <thread>

#include "guestmem/guest_memory.hpp"
#include "guestmem/guest_ram.hpp"
#include "guestmem/sim.hpp"
#include "ram_test_support.hpp"

using namespace guestmem;
using guestmem::test::LogCapture;
using ramtest::SimVm;

namespace {

constexpr std::uint64_t KiB = 1024, MiB = 1024 * KiB, GiB = 1024 * MiB;

}  // namespace

TEST(GuestRam, RegisterAtMapsFreshFramesOfTheLargestFittingSize) {
    SimVm vm;
    const std::size_t caps_before = vm.caps->live_capabilities();
    // 1 GiB aligned: one 1 GiB frame, one 2 MiB frame, two 4 KiB frames.
    ASSERT_TRUE(vm->ram().register_at(GiB, GiB + 2 * MiB + 8 * KiB));
    const auto infos = vm->reservations();
    ASSERT_EQ(infos.size(), 1u);
    EXPECT_TRUE(infos[0].mapped);
    EXPECT_EQ(infos[0].frames, 4u);
    EXPECT_EQ(vm.caps->live_capabilities(), caps_before + 4);
    EXPECT_EQ(vm->ram().total_bytes(), GiB + 2 * MiB + 8 * KiB);
    EXPECT_EQ(vm->ram().free_bytes(), vm->ram().total_bytes());
    EXPECT_TRUE(vm->ram().contains(GiB, 1));
    EXPECT_FALSE(vm->ram().contains(GiB - 1, 2));

    // The memory is the guest's.
    auto vcpu = vm->create_vcpu();
    ASSERT_TRUE(vcpu);
    ASSERT_TRUE(sim::write(**vcpu, 2 * GiB + 2 * MiB + 4 * KiB - 4, 8, 0x0102030405060708ull));
    auto back = read_guest_value<std::uint64_t>(*vm, 2 * GiB + 2 * MiB + 4 * KiB - 4);
    ASSERT_TRUE(back);
    EXPECT_EQ(*back, 0x0102030405060708ull);
}

TEST(GuestRam, RegisterAtRejectsBadRangesAndLeavesNothingBehind) {
    SimVm vm;
    ASSERT_TRUE(vm->reserve_at(0x10000, 0x1000, guestmem::test::returns(guestmem::FaultResult::error)));
    ASSERT_TRUE(vm->make_anon(0x100000, 0x100000));
    const std::size_t caps_before = vm.caps->live_capabilities();
    const std::uint64_t bytes_before = vm.caps->frame_bytes_in_use();
    LogCapture log;

    EXPECT_EQ(vm->ram().register_at(0x20000, 0).code(), Errc::invalid_argument);
    EXPECT_EQ(vm->ram().register_at(0x20001, 0x1000).code(), Errc::invalid_argument);
    EXPECT_TRUE(log.has_error_with({"GuestRam::register_at", "not page aligned"}));
    EXPECT_EQ(vm->ram().register_at(0x20000, 0x1800).code(), Errc::invalid_argument);
    EXPECT_EQ(vm->ram().register_at(UINT64_MAX - 0xfff - 0x1000, 0x3000).code(), Errc::invalid_argument);
    EXPECT_EQ(vm->ram().register_at(0xf000, 0x2000).code(), Errc::overlap);
    EXPECT_TRUE(log.has_error_with({"GuestRam::register_at", "overlaps a reservation"}));
    EXPECT_EQ(vm->ram().register_at(0xff000, 0x2000).code(), Errc::overlap);
    EXPECT_TRUE(log.has_error_with({"GuestRam::register_at", "anonymous pool"}));

    EXPECT_EQ(vm->reservations().size(), 1u);
    EXPECT_EQ(vm.caps->live_capabilities(), caps_before);
    EXPECT_EQ(vm.caps->frame_bytes_in_use(), bytes_before);
    EXPECT_EQ(vm->ram().total_bytes(), 0u);
    // Registering RAM over registered RAM overlaps too.
    ASSERT_TRUE(vm->ram().register_at(0x20000, 0x2000));
    EXPECT_EQ(vm->ram().register_at(0x21000, 0x2000).code(), Errc::overlap);
    EXPECT_EQ(vm->ram().total_bytes(), 0x2000u);
}

TEST(GuestRam, RegisterAtOutOfFramesLeavesNothingBehind) {
    CapabilitySpace::Options options;
    options.frame_budget = 3 * MiB;
    auto caps = std::make_shared<CapabilitySpace>(options);
    auto vm = Vm::create(BackendKind::sim, caps);
    ASSERT_TRUE(vm);
    ASSERT_TRUE((*vm)->init_memory());
    LogCapture log;
    auto r = (*vm)->ram().register_at(0, 4 * MiB);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.code(), Errc::out_of_memory);
    EXPECT_TRUE(log.has_error_with({"GuestRam::register_at", "budget"}));
    EXPECT_TRUE((*vm)->reservations().empty());
    EXPECT_EQ(caps->live_capabilities(), 0u);
    EXPECT_EQ(caps->frame_bytes_in_use(), 0u);
    EXPECT_TRUE((*vm)->ram().register_at(0, 2 * MiB));
}

TEST(GuestRam, RegisterAnonTakesSpaceFromThePools) {
    SimVm vm;
    LogCapture log;
    auto none = vm->ram().register_anon(0x1000);
    ASSERT_FALSE(none);
    EXPECT_EQ(none.code(), Errc::no_space);
    EXPECT_TRUE(log.has_error_with({"GuestRam::register_anon", "no anonymous pool"}));

    ASSERT_TRUE(vm->make_anon(0x40000000, 64 * MiB));
    auto a = vm->ram().register_anon(0x1800);  // rounded up to 8 KiB
    ASSERT_TRUE(a);
    EXPECT_EQ(*a, 0x40000000u);
    auto b = vm->ram().register_anon(4 * MiB);
    ASSERT_TRUE(b);
    EXPECT_EQ(*b, 0x40002000u);
    EXPECT_EQ(vm->ram().total_bytes(), 0x2000 + 4 * MiB);
    // Adjacent registrations form one region.
    ASSERT_EQ(vm->ram().regions().size(), 1u);
    EXPECT_EQ(vm->ram().regions()[0], (Range{0x40000000, 0x2000 + 4 * MiB}));
    EXPECT_EQ(vm->pools()[0].free_bytes, 64 * MiB - 0x2000 - 4 * MiB);

    EXPECT_EQ(vm->ram().register_anon(0).code(), Errc::invalid_argument);
    EXPECT_EQ(vm->ram().register_anon(UINT64_MAX).code(), Errc::invalid_argument);
    EXPECT_EQ(vm->ram().register_anon(128 * MiB).code(), Errc::no_space);
    EXPECT_EQ(vm->ram().total_bytes(), 0x2000 + 4 * MiB);
}

TEST(GuestRam, CustomIteratorMapsTheCallersFrames) {
    SimVm vm;
    std::vector<Cap> mine;
    for (int i = 0; i < 3; ++i) mine.push_back(*vm.caps->allocate_frame(FrameSize::k4KiB));
    ASSERT_TRUE(vm->ram().register_at(0x7000, 0x3000, [&](GuestAddr addr) {
        return FrameRequest{mine[(addr - 0x7000) >> 12], Rights::all, addr, 12};
    }));
    ASSERT_TRUE(write_guest_value<std::uint32_t>(*vm, 0x8ffe, 0xa1b2c3d4));
    auto m1 = vm.caps->frame_memory(mine[1]);
    auto m2 = vm.caps->frame_memory(mine[2]);
    EXPECT_EQ((*m1)[0xffe], std::byte{0xd4});
    EXPECT_EQ((*m2)[1], std::byte{0xa1});
    EXPECT_EQ(vm->ram().free_bytes(), 0x3000u);

    // A bad frame: the call fails and the range stays unreserved.
    LogCapture log;
    auto bad = vm->ram().register_at(0x20000, 0x2000, [&](GuestAddr addr) {
        return FrameRequest{addr == 0x20000 ? mine[0] : kNullCap, Rights::all, addr, 12};
    });
    ASSERT_FALSE(bad);
    EXPECT_EQ(bad.code(), Errc::bad_capability);
    EXPECT_TRUE(log.has_error_with({"GuestRam::register_at", "capability is null"}));
    EXPECT_EQ(vm->reservations().size(), 1u);
    EXPECT_FALSE(vm->ram().contains(0x20000, 1));
    EXPECT_EQ(vm->ram().register_at(0x20000, 0x2000, nullptr).code(), Errc::invalid_argument);
    EXPECT_TRUE(vm->reserve_at(0x20000, 0x2000, guestmem::test::returns(guestmem::FaultResult::error)));

    // The caller's capabilities survive the VM.
    vm.vm.reset();
    EXPECT_TRUE(vm.caps->lookup(mine[0]));
}

TEST(GuestRam, CustomIteratorWithDeferredMapping) {
    SimVm vm;
    vm->set_deferred_mapping(true);
    Cap f = *vm.caps->allocate_frame(FrameSize::k4KiB);
    int calls = 0;
    ASSERT_TRUE(vm->ram().register_at(0x7000, 0x1000, [&](GuestAddr addr) {
        ++calls;
        return FrameRequest{f, Rights::all, addr, 12};
    }));
    EXPECT_EQ(calls, 0);
    ASSERT_TRUE(write_guest_value<std::uint8_t>(*vm, 0x7001, 9));
    EXPECT_EQ(calls, 1);
    EXPECT_EQ((*vm.caps->frame_memory(f))[1], std::byte{9});
}

TEST(GuestRam, OwnedFramesAreDeletedWithTheVm) {
    SimVm vm;
    const std::size_t before = vm.caps->live_capabilities();
    ASSERT_TRUE(vm->ram().register_at(0, 4 * MiB + 4 * KiB));
    EXPECT_EQ(vm.caps->live_capabilities(), before + 3);
    vm.vm.reset();
    EXPECT_EQ(vm.caps->live_capabilities(), before);
    EXPECT_EQ(vm.caps->frame_bytes_in_use(), 0u);
}

TEST(GuestRam, AllocateFirstFitAlignedAndZeroIsAnAddress) {
    SimVm vm;
    ASSERT_TRUE(vm->ram().register_at(0, 0x10000));
    auto a = vm->ram().allocate(0x100);
    ASSERT_TRUE(a);
    EXPECT_EQ(*a, 0u) << "guest address 0 is a valid allocation";
    auto b = vm->ram().allocate(0x10, 0x1000);
    ASSERT_TRUE(b);
    EXPECT_EQ(*b, 0x1000u);
    auto c = vm->ram().allocate(0x80);
    ASSERT_TRUE(c);
    EXPECT_EQ(*c, 0x100u) << "first fit reuses the gap below";
    EXPECT_EQ(vm->ram().free_bytes(), 0x10000u - 0x190);

    LogCapture log;
    EXPECT_EQ(vm->ram().allocate(0).code(), Errc::invalid_argument);
    EXPECT_EQ(vm->ram().allocate(0x10, 3).code(), Errc::invalid_argument);
    EXPECT_TRUE(log.has_error_with({"GuestRam::allocate", "not a power of two"}));
    auto big = vm->ram().allocate(0x10000);
    ASSERT_FALSE(big);
    EXPECT_EQ(big.code(), Errc::no_space);
    EXPECT_TRUE(log.has_error_with({"GuestRam::allocate", "largest free region: [0x1010, 0x10000)"}));
    EXPECT_EQ(vm->ram().free_bytes(), 0x10000u - 0x190);
}

TEST(GuestRam, AllocateWithoutRam) {
    SimVm vm;
    LogCapture log;
    EXPECT_EQ(vm->ram().allocate(1).code(), Errc::no_space);
    EXPECT_TRUE(log.has_error_with({"GuestRam::allocate", "no RAM is registered"}));
    EXPECT_EQ(vm->ram().largest_free_region().code(), Errc::no_space);
}

TEST(GuestRam, FreeReallyFreesAndMerges) {
    SimVm vm;
    ASSERT_TRUE(vm->ram().register_at(0x100000, 0x4000));
    auto a = vm->ram().allocate(0x1000);
    auto b = vm->ram().allocate(0x1000);
    auto c = vm->ram().allocate(0x1000);
    ASSERT_TRUE(a && b && c);
    EXPECT_EQ(vm->ram().free_regions().size(), 1u);
    ASSERT_TRUE(vm->ram().free(*b, 0x1000));
    EXPECT_EQ(vm->ram().free_regions().size(), 2u);
    // The freed space is handed out again.
    auto again = vm->ram().allocate(0x1000);
    ASSERT_TRUE(again);
    EXPECT_EQ(*again, *b);
    ASSERT_TRUE(vm->ram().free(*a, 0x3000));  // several allocations at once
    ASSERT_EQ(vm->ram().free_regions().size(), 1u);
    EXPECT_EQ(vm->ram().free_regions()[0], (Range{0x100000, 0x4000}));
    auto whole = vm->ram().largest_free_region();
    ASSERT_TRUE(whole);
    EXPECT_EQ(*whole, (Range{0x100000, 0x4000}));
}

TEST(GuestRam, FreeRefusesDoubleFreesAndNonRam) {
    SimVm vm;
    ASSERT_TRUE(vm->ram().register_at(0x100000, 0x4000));
    auto a = vm->ram().allocate(0x2000);
    ASSERT_TRUE(a);
    LogCapture log;
    auto twice = vm->ram().free(*a, 0x3000);  // the last 0x1000 is free
    ASSERT_FALSE(twice);
    EXPECT_EQ(twice.code(), Errc::invalid_argument);
    EXPECT_TRUE(log.has_error_with({"GuestRam::free", "not wholly allocated"}));
    EXPECT_EQ(vm->ram().free_bytes(), 0x2000u) << "state unchanged";
    EXPECT_EQ(vm->ram().free(0xff000, 0x2000).code(), Errc::not_mapped);
    EXPECT_TRUE(log.has_error_with({"GuestRam::free", "not wholly registered RAM"}));
    EXPECT_EQ(vm->ram().free(*a, 0).code(), Errc::invalid_argument);
    EXPECT_EQ(vm->ram().free(UINT64_MAX, 2).code(), Errc::invalid_argument);
    ASSERT_TRUE(vm->ram().free(*a + 0x1000, 0x1000));  // part of an allocation
    ASSERT_TRUE(vm->ram().free(*a, 0x1000));
    EXPECT_EQ(vm->ram().free(*a, 0x1000).code(), Errc::invalid_argument);
    EXPECT_EQ(vm->ram().free_bytes(), 0x4000u);
}

TEST(GuestRam, MarkAllocatedIsIdempotentAndChecksRam) {
    SimVm vm;
    ASSERT_TRUE(vm->ram().register_at(0x100000, 0x4000));
    ASSERT_TRUE(vm->ram().mark_allocated(0x101000, 0x1000));
    ASSERT_TRUE(vm->ram().mark_allocated(0x100800, 0x1000));  // overlaps the first: fine
    EXPECT_EQ(vm->ram().free_bytes(), 0x4000u - 0x1800);
    ASSERT_EQ(vm->ram().free_regions().size(), 2u);
    EXPECT_EQ(vm->ram().free_regions()[0], (Range{0x100000, 0x800}));
    EXPECT_EQ(vm->ram().free_regions()[1], (Range{0x102000, 0x2000}));
    auto largest = vm->ram().largest_free_region();
    ASSERT_TRUE(largest);
    EXPECT_EQ(*largest, (Range{0x102000, 0x2000}));

    LogCapture log;
    EXPECT_EQ(vm->ram().mark_allocated(0x103000, 0x2000).code(), Errc::not_mapped);
    EXPECT_TRUE(log.has_error_with({"GuestRam::mark_allocated", "not wholly registered RAM"}));
    EXPECT_EQ(vm->ram().mark_allocated(0x103000, 0).code(), Errc::invalid_argument);
    EXPECT_EQ(vm->ram().free_bytes(), 0x4000u - 0x1800) << "state unchanged";
    // Allocation skips marked RAM.
    auto a = vm->ram().allocate(0x1000);
    ASSERT_TRUE(a);
    EXPECT_EQ(*a, 0x102000u);
}

TEST(GuestRam, FreeRegionsMergeAcrossRegistrations) {
    SimVm vm;
    ASSERT_TRUE(vm->ram().register_at(0x200000, 0x2000));
    ASSERT_TRUE(vm->ram().register_at(0x100000, 0x3000));
    ASSERT_TRUE(vm->ram().register_at(0x103000, 0x1000));  // adjacent to the second
    EXPECT_EQ(vm->ram().regions().size(), 2u);
    auto largest = vm->ram().largest_free_region();
    ASSERT_TRUE(largest);
    EXPECT_EQ(*largest, (Range{0x100000, 0x4000}));
    // An allocation may span the two registrations: they are one region.
    auto a = vm->ram().allocate(0x3800);
    ASSERT_TRUE(a);
    EXPECT_EQ(*a, 0x100000u);
    ASSERT_TRUE(write_guest(*vm, 0x102f00, std::vector<std::byte>(0x200, std::byte{3})));
    ASSERT_TRUE(vm->ram().mark_allocated(0x102000, 0x2000));
    ASSERT_TRUE(vm->ram().free(0x100000, 0x4000));
    EXPECT_EQ(vm->ram().free_regions().size(), 2u);
}

TEST(GuestRam, EverythingFailsBeforeInitMemory) {
    SimVm vm(false);
    LogCapture log;
    EXPECT_EQ(vm->ram().register_at(0, 0x1000).code(), Errc::not_initialized);
    EXPECT_EQ(vm->ram().register_at(0, 0x1000, [](GuestAddr) { return FrameRequest{}; }).code(), Errc::not_initialized);
    EXPECT_EQ(vm->ram().register_anon(0x1000).code(), Errc::not_initialized);
    EXPECT_EQ(vm->ram().allocate(1).code(), Errc::not_initialized);
    EXPECT_EQ(vm->ram().mark_allocated(0, 1).code(), Errc::not_initialized);
    EXPECT_EQ(vm->ram().free(0, 1).code(), Errc::not_initialized);
    EXPECT_EQ(vm->ram().largest_free_region().code(), Errc::not_initialized);
    EXPECT_TRUE(log.has_error_with({"GuestRam::allocate", "not initialised"}));
    EXPECT_TRUE(vm->reservations().empty());
}

TEST(GuestRam, RamFaultsAreErrorsWithAReason) {
    SimVm vm;
    Cap f = *vm.caps->allocate_frame(FrameSize::k4KiB);
    ASSERT_TRUE(vm->ram().register_at(0x7000, 0x1000, [&](GuestAddr addr) {
        return FrameRequest{f, Rights::read, addr, 12};  // a ROM
    }));
    auto vcpu = vm->create_vcpu();
    ASSERT_TRUE(vcpu);
    LogCapture log;
    EXPECT_TRUE(sim::read(**vcpu, 0x7000, 4));
    auto w = sim::write(**vcpu, 0x7000, 4, 1);
    ASSERT_FALSE(w);
    EXPECT_EQ(w.code(), Errc::fault_error);
    EXPECT_TRUE(log.has_error_with({"guest RAM", "write of 4 bytes at 0x7000"}));
}

TEST(GuestRam, ConcurrentAllocateAndFree) {
    SimVm vm;
    ASSERT_TRUE(vm->ram().register_at(0, 16 * MiB));
    auto worker = [&] {
        for (int i = 0; i < 2000; ++i) {
            auto a = vm->ram().allocate(0x1000, 0x1000);
            ASSERT_TRUE(a);
            ASSERT_TRUE(vm->ram().free(*a, 0x1000));
        }
    };
    std::thread t1(worker), t2(worker);
    t1.join();
    t2.join();
    EXPECT_EQ(vm->ram().free_bytes(), 16 * MiB);
    EXPECT_EQ(vm->ram().free_regions().size(), 1u);
}

TEST(GuestRam, VmFreeRefusesAReservationHoldingRam) {
    SimVm vm;
    ASSERT_TRUE(vm->ram().register_at(0x100000, 0x10000));
    auto other = vm->reserve_at(0x200000, 0x1000, guestmem::test::returns(guestmem::FaultResult::error));
    ASSERT_TRUE(other);
    const auto infos = vm->reservations();
    ASSERT_EQ(infos.size(), 2u);
    const ReservationId ram_id = infos[0].id == *other ? infos[1].id : infos[0].id;

    LogCapture log;
    auto freed = vm->free(ram_id);
    EXPECT_EQ(freed.code(), Errc::invalid_argument);
    EXPECT_NE(log.last_error().find("Vm::free"), std::string::npos) << log.last_error();
    EXPECT_NE(log.last_error().find("guest RAM"), std::string::npos) << log.last_error();
    // Nothing changed: the RAM is still mapped and registered.
    EXPECT_EQ(vm->reservations().size(), 2u);
    EXPECT_TRUE(vm->ram().contains(0x100000, 0x10000));
    EXPECT_TRUE(write_guest_value<std::uint32_t>(*vm, 0x10fff0, 7));
    // Other reservations are freed as before.
    EXPECT_TRUE(vm->free(*other));
}
