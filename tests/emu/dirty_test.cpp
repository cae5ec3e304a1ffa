// SPDX-License-Identifier: BSD-2-Clause
// Dirty-page tracking of guest stores the emulator performs itself (its store hook).
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <optional>
#include <thread>
#include <vector>

#include "emu_test_support.hpp"
#include "guestmem/guest_memory.hpp"
#include "guestmem/sim.hpp"

namespace guestmem::emu::test {
namespace {

class EmuDirty : public ::testing::TestWithParam<Arch> {};

using Pages = std::vector<GuestAddr>;

Pages pages_of(const DirtyBitmap& bitmap) {
    Pages pages;
    for (const Range& r : bitmap.ranges()) {
        for (GuestAddr a = r.base; a < r.end(); a += kPageSize) pages.push_back(a);
    }
    return pages;
}

// The pages of all RAM that `vm` saw written since its last collection.
Pages dirty(Vm& vm, GuestAddr base = 0, std::uint64_t size = kRamSize) {
    auto bitmap = vm.dirty_pages(base, size);
    EXPECT_TRUE(bitmap) << (bitmap ? "" : bitmap.error().message);
    return bitmap ? pages_of(*bitmap) : Pages{};
}

// Runs guest dirty_scatter: `count` quadwords i + 1 at `base` + i * `stride`.
void scatter(EmuVm& emu, GuestAddr base, std::uint64_t count, std::uint64_t stride) {
    emu.start(*emu.vcpu, kCode, {base, count, stride});
    auto result = emu.vcpu->run();
    ASSERT_TRUE(result);
    ASSERT_TRUE(result->halted()) << result->message;
}

TEST_P(EmuDirty, GuestStoresDirtyExactlyTheirPagesAndCollectingClearsThem) {
    EmuVm emu(GetParam());
    EMU_LOAD_OR_SKIP(emu, "dirty_scatter");
    ASSERT_TRUE(emu.vm->start_dirty_tracking());
    EXPECT_EQ(dirty(*emu.vm), Pages{}) << "loading the image happened before tracking started";
    ASSERT_NO_FATAL_FAILURE(scatter(emu, kData + 0x18, 6, 0x3000));
    EXPECT_EQ(dirty(*emu.vm),
              (Pages{kData, kData + 0x3000, kData + 0x6000, kData + 0x9000, kData + 0xc000, kData + 0xf000}))
        << "the guest's code and its loads dirty nothing";
    for (std::uint64_t i = 0; i < 6; ++i) {
        EXPECT_EQ(read_guest_value<std::uint64_t>(*emu.vm, kData + 0x18 + i * 0x3000).value(), i + 1);
    }
    EXPECT_EQ(dirty(*emu.vm), Pages{}) << "the first collection cleared the pages";

    // Stores straddling a page boundary dirty both pages.
    ASSERT_NO_FATAL_FAILURE(scatter(emu, kData + 0x20ffc, 2, 0x2000));
    EXPECT_EQ(dirty(*emu.vm), (Pages{kData + 0x20000, kData + 0x21000, kData + 0x22000, kData + 0x23000}));
}

TEST_P(EmuDirty, StoresAreNotLoggedAfterStopAndAreAgainAfterARestart) {
    EmuVm emu(GetParam());
    EMU_LOAD_OR_SKIP(emu, "dirty_scatter");
    ASSERT_TRUE(emu.vm->start_dirty_tracking());
    ASSERT_NO_FATAL_FAILURE(scatter(emu, kData, 2, 0x1000));
    ASSERT_TRUE(emu.vm->stop_dirty_tracking());
    EXPECT_FALSE(emu.vm->dirty_tracking());
    auto off = emu.vm->dirty_pages(0, kRamSize);
    ASSERT_FALSE(off);
    EXPECT_EQ(off.error().code, Errc::invalid_argument);

    // Untracked stores (x86-64: without the store hook, which stop removed).
    ASSERT_NO_FATAL_FAILURE(scatter(emu, kData + 0x10000, 3, 0x1000));
    EXPECT_EQ(read_guest_value<std::uint64_t>(*emu.vm, kData + 0x12000).value(), 3u);
    ASSERT_TRUE(emu.vm->start_dirty_tracking());
    EXPECT_EQ(dirty(*emu.vm), Pages{}) << "tracking restarts clean";
    ASSERT_NO_FATAL_FAILURE(scatter(emu, kData + 0x30000, 1, 0));
    EXPECT_EQ(dirty(*emu.vm), (Pages{kData + 0x30000})) << "the restarted tracking sees stores again";
}

TEST_P(EmuDirty, StoresToAFrameSharedWithATrackingSimVmShowInItsDirtyPages) {
    EmuVm emu(GetParam());
    EMU_LOAD_OR_SKIP(emu, "dirty_scatter");
    Vm sim_vm(sim::create_backend(), emu.caps);
    ASSERT_TRUE(sim_vm.init_memory());
    const Cap shared[] = {emu.caps->allocate_frame(FrameSize::k4KiB).value()};
    constexpr GuestAddr kInEmu = 0x200000;
    constexpr GuestAddr kInSim = 0x900000;
    auto in_emu = emu.vm->reserve_at(kInEmu, kPageSize, ignoring());
    ASSERT_TRUE(in_emu);
    ASSERT_TRUE(emu.vm->map_frames(*in_emu, shared, 12));
    auto in_sim = sim_vm.reserve_at(kInSim, kPageSize, ignoring());
    ASSERT_TRUE(in_sim);
    ASSERT_TRUE(sim_vm.map_frames(*in_sim, shared, 12));

    // Only the sim VM tracks: the emulator must log its guest's stores for it.
    ASSERT_TRUE(sim_vm.start_dirty_tracking());
    EXPECT_FALSE(emu.vm->dirty_tracking());
    ASSERT_NO_FATAL_FAILURE(scatter(emu, kInEmu + 0x40, 1, 0));
    EXPECT_EQ(dirty(sim_vm, kInSim, kPageSize), (Pages{kInSim}));
    EXPECT_EQ(read_guest_value<std::uint64_t>(sim_vm, kInSim + 0x40).value(), 1u);
    EXPECT_EQ(dirty(sim_vm, kInSim, kPageSize), Pages{});
    // A store to the emulator VM's own RAM is not in the sim VM's pages.
    ASSERT_NO_FATAL_FAILURE(scatter(emu, kData, 1, 0));
    EXPECT_EQ(dirty(sim_vm, kInSim, kPageSize), Pages{});
}

// Unicorn calls the store hook before the store: a store's page must be
// marked after it. A store crossing from a device page into RAM makes this
// visible: the emulator delivers its device bytes (to the handler, which
// collects) before it writes its RAM bytes.
TEST_P(EmuDirty, AStoreIsMarkedAfterItsBytesAreWritten) {
    EmuVm emu(GetParam());
    EMU_LOAD_OR_SKIP(emu, "dirty_scatter");
    constexpr GuestAddr kDev = 0x300000;
    constexpr GuestAddr kRam = kDev + kPageSize;
    std::optional<Pages> in_handler;
    std::uint32_t ram_in_handler = 0;
    auto device = emu.vm->reserve_at(kDev, kPageSize, [&](Fault&) {
        if (!in_handler) {
            in_handler = dirty(*emu.vm, kRam, kPageSize);
            ram_in_handler = read_guest_value<std::uint32_t>(*emu.vm, kRam).value();
        }
        return FaultResult::handled;
    });
    ASSERT_TRUE(device);
    ASSERT_TRUE(emu.add_ram(kRam, kPageSize, Rights::read_write));
    ASSERT_TRUE(write_guest_value<std::uint32_t>(*emu.vm, kRam, 0xffffffff));
    ASSERT_TRUE(emu.vm->start_dirty_tracking());
    // Quadword 1 at kRam - 4: bytes 01 00 00 00 to the device, then 00 00 00 00 to RAM.
    ASSERT_NO_FATAL_FAILURE(scatter(emu, kRam - 4, 1, 0));
    ASSERT_TRUE(in_handler.has_value()) << "the device saw the store";
    ASSERT_EQ(ram_in_handler, 0xffffffffu) << "the emulator wrote the RAM bytes before the device bytes";
    EXPECT_EQ(read_guest_value<std::uint32_t>(*emu.vm, kRam).value(), 0u);
    EXPECT_EQ(dirty(*emu.vm, kRam, kPageSize), (Pages{kRam}))
        << "a collection while the store was under way must not be the last to see its page";
}

// The same store, with tracking started by the device handler: the store
// hook ran before tracking started, the RAM bytes are written after.
TEST_P(EmuDirty, TrackingStartedByTheDeviceHalfOfAStoreSeesItsRamHalf) {
    EmuVm emu(GetParam());
    EMU_LOAD_OR_SKIP(emu, "dirty_scatter");
    constexpr GuestAddr kDev = 0x300000;
    constexpr GuestAddr kRam = kDev + kPageSize;
    auto device = emu.vm->reserve_at(kDev, kPageSize, [&](Fault&) {
        if (!emu.vm->dirty_tracking()) {
            EXPECT_TRUE(emu.vm->start_dirty_tracking());
        }
        return FaultResult::handled;
    });
    ASSERT_TRUE(device);
    ASSERT_TRUE(emu.add_ram(kRam, kPageSize, Rights::read_write));
    ASSERT_TRUE(write_guest_value<std::uint32_t>(*emu.vm, kRam, 0xffffffff));
    ASSERT_NO_FATAL_FAILURE(scatter(emu, kRam - 4, 1, 0));
    ASSERT_TRUE(emu.vm->dirty_tracking());
    EXPECT_EQ(read_guest_value<std::uint32_t>(*emu.vm, kRam).value(), 0u);
    EXPECT_EQ(dirty(*emu.vm, kRam, kPageSize), (Pages{kRam}))
        << "the RAM half, written after tracking started, was missed";
}

// Tracking started by a device handler, on the vCPU's own thread, inside an
// instruction that stores to RAM after the device access (x86-64's movsq):
// x86-64 adds its store hook only between instructions, so the rest of that
// instruction stores unseen, and the vCPU must report its RAM anyway.
TEST_P(EmuDirty, TrackingStartedInsideAnInstructionSeesItsLaterStores) {
    EmuVm emu(GetParam());
    EMU_LOAD_OR_SKIP(emu, "device_to_ram");
    constexpr GuestAddr kDev = 0x300000;
    auto device = emu.vm->reserve_at(kDev, kPageSize, [&](Fault& fault) {
        // The emulator may deliver the quadword as two doublewords.
        if (!emu.vm->dirty_tracking()) {
            EXPECT_TRUE(emu.vm->start_dirty_tracking());
        }
        fault.set_data(0x1234);
        return FaultResult::handled;
    });
    ASSERT_TRUE(device);
    constexpr GuestAddr kTarget = kData + 0x5000;
    emu.start(*emu.vcpu, kCode, {kTarget, kDev, 0});
    auto result = emu.vcpu->run();
    ASSERT_TRUE(result);
    ASSERT_TRUE(result->halted()) << result->message;
    ASSERT_TRUE(emu.vm->dirty_tracking());
    EXPECT_EQ(read_guest_value<std::uint32_t>(*emu.vm, kTarget).value(), 0x1234u) << "the guest stored what it read";
    auto bitmap = emu.vm->dirty_pages(0, kRamSize);
    ASSERT_TRUE(bitmap);
    EXPECT_TRUE(bitmap->contains(kTarget)) << "the store after the device read was missed";
}

// The guest loops storing an incrementing counter into kPages pages while the
// VMM collects and refreshes its copy of the pages each collection reports,
// as an incremental snapshot would: if a store were lost (marked before it
// was performed, or not at all), the copy would end up stale.
void no_store_is_lost(Arch arch, bool start_while_running) {
    EmuVm emu(arch);
    EMU_LOAD_OR_SKIP(emu, "dirty_loop");
    constexpr std::uint64_t kPages = 16;
    constexpr GuestAddr kBase = kData;
    constexpr std::uint64_t kSize = kPages * kPageSize;
    emu.start(*emu.vcpu, kCode, {kBase, kPages, kPageSize});
    if (!start_while_running) {
        ASSERT_TRUE(emu.vm->start_dirty_tracking());
    }
    std::optional<Result<RunResult>> result;
    std::atomic<bool> running{true};
    std::thread guest([&] {
        result.emplace(emu.vcpu->run());
        running = false;
    });
    auto value = [&](std::uint64_t page) {
        return read_guest_value<std::uint64_t>(*emu.vm, kBase + page * kPageSize).value();
    };
    std::vector<std::uint64_t> copy(kPages, 0);
    if (start_while_running) {
        // Let the guest run (and translate its loop) first.
        while (value(kPages - 1) < 1000 && running) std::this_thread::yield();
        ASSERT_TRUE(emu.vm->start_dirty_tracking());
        // The full copy a migration starts with, after tracking started.
        for (std::uint64_t p = 0; p < kPages; ++p) copy[p] = value(p);
    }
    std::uint64_t rounds = 0, reported = 0;
    auto collect = [&] {
        auto bitmap = emu.vm->dirty_pages(kBase, kSize);
        ASSERT_TRUE(bitmap) << bitmap.error().message;
        for (std::uint64_t p = 0; p < kPages; ++p) {
            if (!bitmap->test(p)) continue;
            ++reported;
            copy[p] = value(p);
        }
        ++rounds;
    };
    // At least 300 ms, and (on a loaded host, where the guest may get little
    // CPU) until the guest stored 1000 times per page and the collector ran
    // 10 rounds, within a deadline only a stuck guest reaches.
    const auto start = std::chrono::steady_clock::now();
    auto more = [&] {
        const auto now = std::chrono::steady_clock::now();
        return now < start + std::chrono::milliseconds(300) ||
               ((value(0) <= 1000 || rounds <= 10) && now < start + std::chrono::seconds(30));
    };
    while (more() && running) collect();
    const std::uint64_t counter_at_stop = value(0);
    emu.vcpu->request_stop();
    guest.join();
    ASSERT_TRUE(*result);
    EXPECT_EQ((*result)->reason, StopReason::stopped) << (*result)->message;
    collect();
    for (std::uint64_t p = 0; p < kPages; ++p) {
        EXPECT_EQ(copy[p], value(p)) << "page " << p << ": its last store was never reported";
    }
    EXPECT_GT(rounds, 10u) << "the collector ran while the guest stored";
    EXPECT_GT(counter_at_stop, 1000u) << "the guest ran meanwhile";
    EXPECT_GE(reported, kPages);
}

TEST_P(EmuDirty, NoStoreIsLostWhileTheVmmCollectsConcurrently) { no_store_is_lost(GetParam(), false); }

TEST_P(EmuDirty, NoStoreIsLostWhenTrackingStartsWhileTheGuestRuns) { no_store_is_lost(GetParam(), true); }

INSTANTIATE_TEST_SUITE_P(Arches, EmuDirty, ::testing::ValuesIn(kArches), arch_name);

}  // namespace
}  // namespace guestmem::emu::test
