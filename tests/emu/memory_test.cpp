// SPDX-License-Identifier: BSD-2-Clause
// Guest memory on the emulator: read-only frames, deferred mapping, the region limit.
#include <gtest/gtest.h>

#include <vector>

#include "emu_test_support.hpp"
#include "guestmem/guest_memory.hpp"

namespace guestmem::emu::test {
namespace {

enum Op : std::uint64_t { store1, store2, store4, store8, load1, load2, load4, load8 };

class EmuMemory : public ::testing::TestWithParam<Arch> {};

constexpr GuestAddr kReadOnly = 0x200000;

TEST_P(EmuMemory, WriteToReadOnlyFrameReachesTheHandlerOnceAndChangesNothing) {
    EmuVm emu(GetParam());
    EMU_LOAD_OR_SKIP(emu, "access");
    std::vector<Access> seen;
    ASSERT_TRUE(emu.add_ram(kReadOnly, 0x2000, Rights::read, [&](Fault& fault) {
        seen.push_back(fault.access());
        return FaultResult::ignore;
    }));
    ASSERT_TRUE(write_guest_value<std::uint64_t>(*emu.vm, kReadOnly + 0x100, 0x0102030405060708, WriteRights::vmm));
    for (GuestAddr offset : {GuestAddr{0x100}, GuestAddr{0x101}, GuestAddr{0x103}}) {
        seen.clear();
        emu.start(*emu.vcpu, kCode, {kReadOnly + offset, 0xaabbccdd, store4});
        auto result = emu.vcpu->run();
        ASSERT_TRUE(result);
        EXPECT_TRUE(result->halted()) << result->message;
        ASSERT_EQ(seen.size(), 1u) << "store at offset " << offset;
        EXPECT_TRUE(seen[0].is_write);
        EXPECT_EQ(seen[0].addr, kReadOnly + offset);
        EXPECT_EQ(seen[0].size, 4);
        EXPECT_EQ(seen[0].data, 0xaabbccddu);
        auto value = read_guest_value<std::uint64_t>(*emu.vm, kReadOnly + 0x100);
        ASSERT_TRUE(value);
        EXPECT_EQ(*value, 0x0102030405060708u);
    }
}

TEST_P(EmuMemory, ReadOnlyFrameWritesOfEverySizeArriveOnce) {
    EmuVm emu(GetParam());
    EMU_LOAD_OR_SKIP(emu, "access");
    std::vector<Access> seen;
    ASSERT_TRUE(emu.add_ram(kReadOnly, 0x1000, Rights::read, [&](Fault& fault) {
        seen.push_back(fault.access());
        return FaultResult::ignore;
    }));
    const std::pair<Op, std::uint8_t> cases[] = {{store1, 1}, {store2, 2}, {store8, 8}};
    for (auto [op, size] : cases) {
        seen.clear();
        emu.start(*emu.vcpu, kCode, {kReadOnly + 0x208, 0x1122334455667788, op});
        auto result = emu.vcpu->run();
        ASSERT_TRUE(result);
        EXPECT_TRUE(result->halted()) << result->message;
        ASSERT_EQ(seen.size(), 1u) << "size " << int(size);
        EXPECT_EQ(seen[0].size, size);
        EXPECT_EQ(seen[0].data, 0x1122334455667788 & (~0ull >> (64 - 8 * size)));
        auto value = read_guest_value<std::uint64_t>(*emu.vm, kReadOnly + 0x208);
        ASSERT_TRUE(value);
        EXPECT_EQ(*value, 0u);
    }
}

TEST_P(EmuMemory, UnhandledFaultHandlerCanMapMemoryOnDemand) {
    EmuVm emu(GetParam());
    EMU_LOAD_OR_SKIP(emu, "ram_sum");
    constexpr GuestAddr at = 0x700000;
    std::size_t unhandled = 0;
    emu.vm->set_unhandled_fault_handler([&](Fault& fault) {
        ++unhandled;
        const GuestAddr page = fault.address() & ~GuestAddr{0xfff};
        if (!emu.add_ram(page, 0x1000, Rights::read_write)) return FaultResult::error;
        return FaultResult::restart;
    });
    emu.start(*emu.vcpu, kCode, {at, 0x2000 / 8, 0});  // two pages
    auto result = emu.vcpu->run();
    ASSERT_TRUE(result);
    EXPECT_TRUE(result->halted()) << result->message;
    EXPECT_EQ(unhandled, 2u);  // once per page: then the guest runs in the new frames
    EXPECT_EQ(emu.result(*emu.vcpu), 3ull * 1024 * 1023 / 2);
    auto value = read_guest_value<std::uint64_t>(*emu.vm, at + 0x1000);
    ASSERT_TRUE(value);
    EXPECT_EQ(*value, 3u * 512);
}

TEST_P(EmuMemory, ReadOnlyFramesReadAtNativeSpeed) {
    EmuVm emu(GetParam());
    EMU_LOAD_OR_SKIP(emu, "access");
    std::size_t calls = 0;
    ASSERT_TRUE(emu.add_ram(kReadOnly, 0x1000, Rights::read, [&](Fault&) {
        ++calls;
        return FaultResult::ignore;
    }));
    ASSERT_TRUE(write_guest_value<std::uint64_t>(*emu.vm, kReadOnly + 8, 0x123456789, WriteRights::vmm));
    emu.start(*emu.vcpu, kCode, {kReadOnly + 8, 0, load8});
    auto result = emu.vcpu->run();
    ASSERT_TRUE(result);
    EXPECT_TRUE(result->halted()) << result->message;
    EXPECT_EQ(emu.result(*emu.vcpu), 0x123456789u);
    EXPECT_EQ(calls, 0u);
}

TEST_P(EmuMemory, DeferredMappingMapsOnFirstTouch) {
    EmuVm emu(GetParam());
    EMU_LOAD_OR_SKIP(emu, "ram_sum");
    emu.vm->set_deferred_mapping(true);
    constexpr GuestAddr at = 0x300000;
    std::size_t iterator_calls = 0;
    auto id = emu.vm->reserve_at(at, 0x4000, ignoring());
    ASSERT_TRUE(id);
    ASSERT_TRUE(emu.vm->map(*id, [&](GuestAddr addr) {
        ++iterator_calls;
        auto cap = emu.caps->allocate_frame(FrameSize::k4KiB);
        return FrameRequest{cap ? *cap : kNullCap, Rights::read_write, addr, 12};
    }));
    EXPECT_EQ(iterator_calls, 0u);  // nothing mapped yet
    emu.start(*emu.vcpu, kCode, {at, 0x4000 / 8, 0});
    auto result = emu.vcpu->run();
    ASSERT_TRUE(result);
    EXPECT_TRUE(result->halted()) << result->message;
    EXPECT_EQ(iterator_calls, 4u);
    EXPECT_EQ(emu.result(*emu.vcpu), 3ull * 2048 * 2047 / 2);
    // After the first touch the guest ran on the frames, not through faults.
    EXPECT_LT(result->exits.mmio, 16u);
    auto value = read_guest_value<std::uint64_t>(*emu.vm, at + 8 * 100);
    ASSERT_TRUE(value);
    EXPECT_EQ(*value, 300u);
}

TEST_P(EmuMemory, RegionLimitGivesAnErrorNotAnAbort) {
    EmuVm emu(GetParam(), Options{.max_regions = 12, .mmio_pages = 2});
    // RAM took one region; eight more reservations of one run each fit,
    // while separate runs (non-adjacent) each take one region.
    std::size_t mapped = 0;
    Result<ReservationId> last = ReservationId{};
    for (int i = 0; i < 20; ++i) {
        last = emu.add_ram(0x400000 + GuestAddr(i) * 0x10000, 0x1000, Rights::read_write);
        if (!last) break;
        ++mapped;
    }
    ASSERT_FALSE(last);
    EXPECT_EQ(last.code(), Errc::out_of_memory);
    EXPECT_NE(last.error().message.find("limit"), std::string::npos) << last.error().message;
    EXPECT_EQ(mapped, 9u);  // 12 - 2 for device pages - 1 for RAM
    // The VM still works.
    EMU_LOAD_OR_SKIP(emu, "ram_sum");
    emu.start(*emu.vcpu, kCode, {kData, 16, 0});
    auto result = emu.vcpu->run();
    ASSERT_TRUE(result);
    EXPECT_TRUE(result->halted()) << result->message;
}

// AArch64 at its default limit, just under where Unicorn aborts. x86-64's
// default (4,000) takes Unicorn minutes to map, so x86-64 runs with 1,100.
TEST_P(EmuMemory, ManyReservationsStayUnderTheLimit) {
    const bool x86 = GetParam() == Arch::x86_64;
    EmuVm emu(GetParam(), x86 ? Options{.max_regions = 1100} : Options{});
    const std::size_t tries = 1200;
    std::size_t mapped = 0;
    Result<ReservationId> last = ReservationId{};
    for (std::size_t i = 0; i < tries; ++i) {
        last = emu.add_ram(0x1000000 + GuestAddr(i) * 0x2000, 0x1000, Rights::read_write);
        if (!last) break;
        ++mapped;
    }
    ASSERT_FALSE(last) << "no limit was reached";
    EXPECT_EQ(last.code(), Errc::out_of_memory);
    // A vCPU applying all of them must not abort the process.
    EMU_LOAD_OR_SKIP(emu, "access");
    emu.start(*emu.vcpu, kCode, {0x1000000, 5, store1});
    auto result = emu.vcpu->run();
    ASSERT_TRUE(result);
    EXPECT_TRUE(result->halted()) << result->message;
    auto value = read_guest_value<std::uint8_t>(*emu.vm, 0x1000000);
    ASSERT_TRUE(value);
    EXPECT_EQ(*value, 5);
    // Device pages on top, past their budget: still no abort.
    std::size_t device_reads = 0;
    ASSERT_TRUE(emu.vm->reserve_at(kDevice, 0x200000, [&](Fault&) {
        ++device_reads;
        return FaultResult::ignore;
    }));
    for (GuestAddr page = 0; page < 100; ++page) {
        emu.start(*emu.vcpu, kCode, {kDevice + page * 0x1000, 0, load1});
        auto read = emu.vcpu->run();
        ASSERT_TRUE(read);
        ASSERT_TRUE(read->halted()) << read->message;
    }
    EXPECT_EQ(device_reads, 100u);
}

TEST_P(EmuMemory, FreedRamIsNoLongerReachable) {
    EmuVm emu(GetParam());
    EMU_LOAD_OR_SKIP(emu, "access");
    auto id = emu.add_ram(0x500000, 0x1000, Rights::read_write);
    ASSERT_TRUE(id);
    emu.start(*emu.vcpu, kCode, {0x500000, 0x42, store1});
    ASSERT_TRUE(emu.vcpu->run());
    ASSERT_TRUE(emu.vm->free(*id));
    std::vector<Access> unhandled;
    emu.vm->set_unhandled_fault_handler([&](Fault& fault) {
        unhandled.push_back(fault.access());
        return FaultResult::ignore;
    });
    emu.start(*emu.vcpu, kCode, {0x500000, 0, load1});
    auto result = emu.vcpu->run();
    ASSERT_TRUE(result);
    EXPECT_TRUE(result->halted()) << result->message;
    EXPECT_EQ(emu.result(*emu.vcpu), 0u);
    ASSERT_FALSE(unhandled.empty());
    EXPECT_EQ(unhandled[0].addr & ~GuestAddr{3}, 0x500000u);
}

INSTANTIATE_TEST_SUITE_P(Arches, EmuMemory, ::testing::ValuesIn(kArches), arch_name);

}  // namespace
}  // namespace guestmem::emu::test
