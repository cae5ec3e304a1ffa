// SPDX-License-Identifier: BSD-2-Clause
// Dirty-page tracking on the sim backend and from the VMM's side.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <thread>
#include <vector>

#include "guestmem/guest_memory.hpp"
#include "guestmem/guest_ram.hpp"
#include "guestmem/sim.hpp"
#include "test_support.hpp"

namespace guestmem {
namespace {

using test::CountingHandler;
using test::LogCapture;
using test::SimVm;

constexpr GuestAddr kBase = 0x100000;
constexpr std::uint64_t kSize = 0x40000;  // 64 pages

// A VM with kSize bytes of 4 KiB frames at kBase, tracking on.
struct TrackedVm : SimVm {
    explicit TrackedVm(std::shared_ptr<CapabilitySpace> caps = std::make_shared<CapabilitySpace>())
        : SimVm(std::move(caps)) {
        id = *vm->reserve_at(kBase, kSize, CountingHandler{}.handler());
        for (std::uint64_t i = 0; i < kSize / kPageSize; ++i) frames.push_back(frame());
        EXPECT_TRUE(vm->map_frames(id, frames, 12));
        EXPECT_TRUE(vm->start_dirty_tracking());
    }
    std::vector<GuestAddr> dirty() {
        auto bitmap = vm->dirty_pages(kBase, kSize);
        EXPECT_TRUE(bitmap) << (bitmap ? "" : bitmap.error().message);
        std::vector<GuestAddr> pages;
        if (!bitmap) return pages;
        for (const Range& r : bitmap->ranges()) {
            for (GuestAddr a = r.base; a < r.end(); a += kPageSize) pages.push_back(a);
        }
        return pages;
    }
    ReservationId id{};
    std::vector<Cap> frames;
};

using Pages = std::vector<GuestAddr>;

TEST(DirtyTracking, EveryPageStartsCleanAndAGuestWriteDirtiesItsPage) {
    TrackedVm t;
    EXPECT_EQ(t.dirty(), Pages{});
    ASSERT_TRUE(sim::write(*t.vcpu, kBase + 0x3008, 8, 1));
    ASSERT_TRUE(sim::read(*t.vcpu, kBase + 0x5000, 8));
    EXPECT_EQ(t.dirty(), (Pages{kBase + 0x3000})) << "reads dirty nothing";
    EXPECT_EQ(t.dirty(), Pages{}) << "collecting cleared the page";
}

TEST(DirtyTracking, AGuestWriteAcrossAPageBoundaryDirtiesBothPages) {
    TrackedVm t;
    ASSERT_TRUE(sim::write(*t.vcpu, kBase + 0x1ffc, 8, ~0ull));
    EXPECT_EQ(t.dirty(), (Pages{kBase + 0x1000, kBase + 0x2000}));
}

TEST(DirtyTracking, VmmSideWritesAreTrackedFromEverySource) {
    TrackedVm t;
    const std::byte bytes[16] = {};
    ASSERT_TRUE(write_guest(*t.vm, kBase + 0x0000, bytes));                    // the one-run fast path
    ASSERT_TRUE(write_guest(*t.vm, kBase + 0x1ff8, bytes));                    // across runs: the general path
    ASSERT_TRUE(write_guest_value<std::uint64_t>(*t.vm, kBase + 0x4000, 7));   // typed accessor
    ASSERT_TRUE(fill_guest(*t.vm, kBase + 0x6000, 0x2000, std::byte{0xff}));   // fill, two pages
    ASSERT_TRUE(write_guest(*t.vm, kBase + 0x9000, bytes, WriteRights::vmm));  // the VMM's rights
    ASSERT_TRUE(t.vm->visit_memory(kBase + 0xa000, 4, Rights::read_write, [](const GuestChunk& c) -> Result<void> {
        c.host[0] = std::byte{1};
        return {};
    }));
    std::byte mine[8];
    ASSERT_TRUE(read_guest(*t.vm, kBase + 0xb000, mine));  // reads dirty nothing
    EXPECT_EQ(t.dirty(), (Pages{kBase, kBase + 0x1000, kBase + 0x2000, kBase + 0x4000, kBase + 0x6000, kBase + 0x7000,
                                kBase + 0x9000, kBase + 0xa000}));
}

TEST(DirtyTracking, WritesThroughAnotherVmsMappingOfASharedFrameAreTracked) {
    auto caps = std::make_shared<CapabilitySpace>();
    TrackedVm a(caps);
    SimVm b(caps);
    auto in_b = b.vm->reserve_at(0x900000, kPageSize, CountingHandler{}.handler());
    const Cap shared[] = {a.frames[5]};
    ASSERT_TRUE(b.vm->map_frames(*in_b, shared, 12));
    ASSERT_TRUE(sim::write(*b.vcpu, 0x900010, 4, 3));  // B's guest
    EXPECT_EQ(a.dirty(), (Pages{kBase + 0x5000}));
    ASSERT_TRUE(write_guest_value<std::uint32_t>(*b.vm, 0x900020, 4));  // B's VMM side
    EXPECT_EQ(a.dirty(), (Pages{kBase + 0x5000}));
}

TEST(DirtyTracking, TwoTrackersSharingAFrameEachSeeEveryWrite) {
    auto caps = std::make_shared<CapabilitySpace>();
    TrackedVm a(caps);
    SimVm b(caps);
    auto in_b = b.vm->reserve_at(kBase, kPageSize, CountingHandler{}.handler());
    const Cap shared[] = {a.frames[0]};
    ASSERT_TRUE(b.vm->map_frames(*in_b, shared, 12));
    ASSERT_TRUE(b.vm->start_dirty_tracking());
    ASSERT_TRUE(sim::write(*a.vcpu, kBase, 1, 1));
    EXPECT_EQ(a.dirty(), (Pages{kBase}));
    auto seen_by_b = b.vm->dirty_pages(kBase, kPageSize);
    ASSERT_TRUE(seen_by_b);
    EXPECT_EQ(seen_by_b->count(), 1u) << "A collecting first does not hide the write from B";
}

/// Writes values over the pages on one thread with `write` while the test
/// collects on another, and checks that no page's last write went
/// unreported.
template <class Write>
void expect_no_write_lost_while_collecting(TrackedVm& t, Write write) {
    constexpr std::uint64_t kWrites = 200000;
    // On a loaded host the writer's 200,000 writes (about 2 ms) may all run
    // before the collector is scheduled: it writes on until the collector
    // has run this many rounds, so that the two overlap on any host.
    constexpr std::uint64_t kRounds = 50;
    constexpr std::size_t kPages = kSize / kPageSize;
    std::atomic<bool> done{false};
    std::atomic<std::uint64_t> rounds{0};
    // The collector keeps a copy of the first word of every page, refreshed
    // for the pages each collection reports, as an incremental snapshot
    // would: if a write were lost, the copy would end up stale.
    std::vector<std::uint64_t> copy(kPages, 0);
    std::thread guest([&] {
        const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
        for (std::uint64_t i = 1;; ++i) {
            ASSERT_TRUE(write(kBase + ((i * 7) % kPages) * kPageSize, i));
            if (i < kWrites || i % 1024 != 0) continue;
            if (rounds.load() >= kRounds || std::chrono::steady_clock::now() > deadline) break;
        }
        done.store(true);
    });
    std::uint64_t reported = 0;
    auto collect = [&] {
        auto bitmap = t.vm->dirty_pages(kBase, kSize);
        ASSERT_TRUE(bitmap);
        for (std::size_t p = 0; p < kPages; ++p) {
            if (!bitmap->test(p)) continue;
            ++reported;
            copy[p] = read_guest_value<std::uint64_t>(*t.vm, kBase + p * kPageSize).value();
        }
    };
    while (!done.load()) {
        collect();
        rounds.fetch_add(1);
    }
    guest.join();
    collect();
    for (std::size_t p = 0; p < kPages; ++p) {
        EXPECT_EQ(copy[p], read_guest_value<std::uint64_t>(*t.vm, kBase + p * kPageSize).value())
            << "page " << p << ": its last write was never reported";
    }
    EXPECT_GE(rounds.load(), kRounds) << "the collector ran while the guest wrote (30 s deadline)";
    EXPECT_GE(reported, kPages);
}

TEST(DirtyTracking, NoWriteIsLostWhileTheVmmCollectsConcurrently) {
    TrackedVm t;
    expect_no_write_lost_while_collecting(
        t, [&](GuestAddr addr, std::uint64_t value) { return static_cast<bool>(sim::write(*t.vcpu, addr, 8, value)); });
}

TEST(DirtyTracking, NoVmmSideWriteIsLostWhileAnotherThreadCollects) {
    // write_guest_value records its write after leaving the reservation,
    // relying on the leave's fence: the same guarantee as the guest's writes.
    TrackedVm t;
    expect_no_write_lost_while_collecting(t, [&](GuestAddr addr, std::uint64_t value) {
        return static_cast<bool>(write_guest_value<std::uint64_t>(*t.vm, addr, value));
    });
}

TEST(DirtyTracking, StoppingDropsThePagesAndRestartingStartsClean) {
    TrackedVm t;
    ASSERT_TRUE(sim::write(*t.vcpu, kBase, 1, 1));
    ASSERT_TRUE(t.vm->stop_dirty_tracking());
    EXPECT_FALSE(t.vm->dirty_tracking());
    ASSERT_TRUE(sim::write(*t.vcpu, kBase + 0x1000, 1, 1));
    ASSERT_TRUE(t.vm->start_dirty_tracking());
    EXPECT_EQ(t.dirty(), Pages{});
}

TEST(DirtyTracking, BadCallsFailWithAClearErrorAndChangeNothing) {
    LogCapture log;
    TrackedVm t;
    ASSERT_TRUE(sim::write(*t.vcpu, kBase, 1, 1));
    auto again = t.vm->start_dirty_tracking();
    ASSERT_FALSE(again);
    EXPECT_EQ(again.error().code, Errc::invalid_argument);
    EXPECT_TRUE(log.has_error("Vm::start_dirty_tracking", {"dirty tracking is already on"}));
    auto unaligned = t.vm->dirty_pages(kBase + 1, kPageSize);
    ASSERT_FALSE(unaligned);
    EXPECT_EQ(unaligned.error().code, Errc::invalid_argument);
    EXPECT_TRUE(log.has_error("Vm::dirty_pages", {"not page aligned"}));
    EXPECT_FALSE(t.vm->dirty_pages(0, 0));
    EXPECT_FALSE(t.vm->dirty_pages(~std::uint64_t{0} - 0xfff, 0x2000));
    EXPECT_EQ(t.dirty(), (Pages{kBase})) << "the failed calls collected nothing";

    ASSERT_TRUE(t.vm->stop_dirty_tracking());
    auto off = t.vm->dirty_pages(kBase, kSize);
    ASSERT_FALSE(off);
    EXPECT_EQ(off.error().code, Errc::invalid_argument);
    EXPECT_TRUE(log.has_error("Vm::dirty_pages", {"dirty tracking is off"}));
    auto stop_again = t.vm->stop_dirty_tracking();
    ASSERT_FALSE(stop_again);

    Vm uninitialised(sim::create_backend(), std::make_shared<CapabilitySpace>());
    EXPECT_EQ(uninitialised.start_dirty_tracking().error().code, Errc::not_initialized);
}

// A backend whose hypervisor writes memory the core never sees, and cannot log.
class UnloggedBackend final : public Backend {
public:
    BackendKind kind() const override { return BackendKind::kvm; }
    Result<void> install(std::span<const MappedRun>) override { return {}; }
    void uninstall(std::span<const MappedRun>) noexcept override {}
    Result<std::unique_ptr<VcpuBackend>> create_vcpu(Vcpu&) override { return fail(Errc::unsupported, "no vCPUs"); }
};

TEST(DirtyTracking, ABackendThatCannotLogRefusesTrackingInsteadOfReportingNothing) {
    LogCapture log;
    Vm vm(std::make_unique<UnloggedBackend>(), std::make_shared<CapabilitySpace>());
    ASSERT_TRUE(vm.init_memory());
    auto started = vm.start_dirty_tracking();
    ASSERT_FALSE(started);
    EXPECT_EQ(started.error().code, Errc::unsupported);
    EXPECT_TRUE(log.has_error("Vm::start_dirty_tracking", {"cannot track guest writes"}));
    EXPECT_FALSE(vm.dirty_tracking());
}

TEST(DirtyTracking, AVmThatCannotLogJoiningTheSpaceMakesCollectionFail) {
    LogCapture log;
    auto caps = std::make_shared<CapabilitySpace>();
    TrackedVm a(caps);
    Vm b(std::make_unique<UnloggedBackend>(), caps);
    auto bitmap = a.vm->dirty_pages(kBase, kSize);
    ASSERT_FALSE(bitmap) << "B's writes to shared frames would be missed";
    EXPECT_EQ(bitmap.error().code, Errc::unsupported);
    EXPECT_TRUE(log.has_error("Vm::dirty_pages", {"cannot track its guest writes"}));
}

TEST(DirtyTracking, UnmappedAndUnreservedPagesAreClean) {
    TrackedVm t;
    auto bitmap = t.vm->dirty_pages(0, std::uint64_t{1} << 32);
    ASSERT_TRUE(bitmap);
    EXPECT_EQ(bitmap->count(), 0u);
    EXPECT_EQ(bitmap->pages(), (std::uint64_t{1} << 32) / kPageSize);
}

}  // namespace
}  // namespace guestmem
