// SPDX-License-Identifier: BSD-2-Clause
// Saves while other threads write guest memory or change the address space,
// and saves that fail after collecting the dirty pages: every file a save
// reports as written restores, and no failed save loses a dirty page.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/resource.h>

#include <atomic>
#include <thread>

#include "guestmem/backend_registry.hpp"
#include "guestmem/guest_memory.hpp"
#include "snapshot_test_support.hpp"

namespace guestmem {
namespace {

using test::EmptyVm;
using test::ScratchDir;
using test::SimVm;

constexpr GuestAddr kBase = 0x100000;
constexpr std::uint64_t kPages = 2048;

struct RamVm : SimVm {
    RamVm() { EXPECT_TRUE(vm->ram().register_at(kBase, kPages * kPageSize)); }
};

// A VM with kPages of RAM at kBase on each backend: KVM where /dev/kvm
// exists (the only reason to skip), the emulator, sim.
class OnEveryBackend : public ::testing::TestWithParam<BackendKind> {
protected:
    void SetUp() override {
        if (GetParam() == BackendKind::kvm && !std::filesystem::exists("/dev/kvm")) {
            GTEST_SKIP() << "/dev/kvm is absent: the KVM backend cannot run here";
        }
        auto created = Vm::create(GetParam(), caps, Arch::x86_64);
        ASSERT_TRUE(created) << created.error().message;
        vm = std::move(*created);
        ASSERT_TRUE(vm->init_memory());
        ASSERT_TRUE(vm->ram().register_at(kBase, kPages * kPageSize));
    }
    Cap frame() const { return caps->allocate_frame(FrameSize::k4KiB).value(); }
    std::shared_ptr<CapabilitySpace> caps = std::make_shared<CapabilitySpace>();
    std::unique_ptr<Vm> vm;
};

// What restore needs for a VM that has only RAM.
snapshot::DeviceHandlers no_devices() { return test::HandlerLog{}.handlers(); }

TEST_P(OnEveryBackend, EveryFileRestoresWhileAnotherThreadWritesGuestMemory) {
    ScratchDir dir;
    std::atomic<bool> stop{false};
    std::atomic<std::uint64_t> written{0};
    // Each u64 written holds the writer's round, so a restored value can be
    // checked to be one that was there: never more than the rounds written.
    std::thread writer([&] {
        for (std::uint64_t round = 1; !stop.load(std::memory_order_relaxed); ++round) {
            for (std::uint64_t page = 0; page < kPages; page += 3) {
                const GuestAddr at = kBase + page * kPageSize + (round % 512) * 8;
                ASSERT_TRUE(write_guest_value<std::uint64_t>(*vm, at, round));
            }
            written.store(round, std::memory_order_release);
        }
    });
    while (written.load(std::memory_order_acquire) < 2) std::this_thread::yield();
    constexpr int kSaves = 20;
    for (int i = 0; i < kSaves; ++i) {
        auto saved = snapshot::save(*vm, dir / ("s" + std::to_string(i)));
        ASSERT_TRUE(saved) << saved.error().message;
    }
    stop = true;
    writer.join();
    const std::uint64_t rounds = written.load();
    for (int i = 0; i < kSaves; ++i) {
        EmptyVm target;
        auto restored =
            snapshot::restore(*target.vm, dir / ("s" + std::to_string(i)), no_devices(), snapshot::RestoreMode::eager);
        ASSERT_TRUE(restored) << "file " << i << ": " << restored.error().message;
        for (std::uint64_t page = 0; page < kPages; page += 97) {
            for (std::uint64_t slot = 0; slot < 512; slot += 61) {
                auto v = read_guest_value<std::uint64_t>(*target.vm, kBase + page * kPageSize + slot * 8);
                ASSERT_TRUE(v);
                EXPECT_LE(*v, rounds + 1) << "a value nobody wrote, page " << page << " slot " << slot;
            }
        }
    }
}

TEST_P(OnEveryBackend, SavesSucceedAndDiffsStayCompleteWhileOtherThreadsReserveAndFree) {
    ScratchDir dir;
    ASSERT_TRUE(vm->start_dirty_tracking());
    std::atomic<bool> stop{false};
    std::atomic<int> churned{0};
    // Reservations with frames and with deferred mappings come and go far
    // from RAM, as device models and hot-plugged memory do.
    std::thread churn([&] {
        std::vector<Cap> frames{frame(), frame()};
        for (int i = 0; !stop.load(std::memory_order_relaxed); ++i) {
            const GuestAddr at = 0x40000000 + static_cast<GuestAddr>(i % 64) * 0x10000;
            auto id = vm->reserve_at(at, 0x2000, [](Fault&) { return FaultResult::handled; });
            ASSERT_TRUE(id);
            vm->set_deferred_mapping(i % 2 == 0);
            ASSERT_TRUE(vm->map_frames(*id, frames, 12));
            ASSERT_TRUE(vm->free(*id));
            churned.fetch_add(1, std::memory_order_relaxed);
        }
    });
    ASSERT_TRUE(snapshot::save(*vm, dir / "0"));
    std::filesystem::path parent = dir / "0";
    constexpr int kDiffs = 40;
    for (int i = 1; i <= kDiffs; ++i) {
        ASSERT_TRUE(write_guest_value<std::uint64_t>(*vm, kBase + static_cast<GuestAddr>(i) * kPageSize, i));
        const auto path = dir / std::to_string(i);
        auto saved = snapshot::save(*vm, path, test::diff_of(parent));
        ASSERT_TRUE(saved) << "diff " << i << ": " << saved.error().message;
        EXPECT_GE(saved->stored_pages, 1u) << "the page written before diff " << i;
        parent = path;
    }
    stop = true;
    churn.join();
    EXPECT_GT(churned.load(), 0);
    EmptyVm target;
    auto restored = snapshot::restore(*target.vm, parent, no_devices(), snapshot::RestoreMode::eager);
    ASSERT_TRUE(restored) << restored.error().message;
    for (int i = 1; i <= kDiffs; ++i) {
        EXPECT_EQ(read_guest_value<std::uint64_t>(*target.vm, kBase + static_cast<GuestAddr>(i) * kPageSize).value(),
                  static_cast<std::uint64_t>(i));
    }
}

INSTANTIATE_TEST_SUITE_P(ConcurrentSave, OnEveryBackend,
                         ::testing::Values(BackendKind::sim, BackendKind::emu, BackendKind::kvm),
                         [](const auto& info) { return std::string(to_string(info.param)); });

// Makes writes past `bytes` fail with EFBIG (the signal ignored) while it lives.
struct FileSizeLimit {
    rlimit saved{};
    sighandler_t handler;
    explicit FileSizeLimit(rlim_t bytes) : handler(::signal(SIGXFSZ, SIG_IGN)) {
        ::getrlimit(RLIMIT_FSIZE, &saved);
        rlimit limited = saved;
        limited.rlim_cur = bytes;
        ::setrlimit(RLIMIT_FSIZE, &limited);
    }
    ~FileSizeLimit() {
        ::setrlimit(RLIMIT_FSIZE, &saved);
        ::signal(SIGXFSZ, handler);
    }
};

TEST(FailedSave, LosesNoDirtyPageAndTheNextDiffHasThemAll) {
    ScratchDir dir;
    RamVm source;
    ASSERT_TRUE(source.vm->start_dirty_tracking());
    for (std::uint64_t page = 0; page < kPages; page += 2) {
        ASSERT_TRUE(write_guest_value<std::uint64_t>(*source.vm, kBase + page * kPageSize, 0xf00 + page));
    }
    ASSERT_TRUE(snapshot::save(*source.vm, dir / "0"));
    ASSERT_TRUE(write_guest_value<std::uint64_t>(*source.vm, kBase + 5 * kPageSize, 0x5555));
    ASSERT_TRUE(write_guest_value<std::uint64_t>(*source.vm, kBase + 6 * kPageSize, 0));  // zeroed since
    {
        // A full save (1,024 pages of data) and a diff fail halfway through
        // their data: both collected the dirty pages first.
        FileSizeLimit limit(64 * 1024);
        auto full = snapshot::save(*source.vm, dir / "big");
        ASSERT_FALSE(full);
        EXPECT_EQ(full.code(), Errc::io_error) << full.error().message;
        for (std::uint64_t page = 100; page < 200; ++page) {
            ASSERT_TRUE(write_guest_value<std::uint64_t>(*source.vm, kBase + page * kPageSize, 0xd00 + page));
        }
        auto diff = snapshot::save(*source.vm, dir / "1", test::diff_of(dir / "0"));
        ASSERT_FALSE(diff);
        EXPECT_EQ(diff.code(), Errc::io_error) << diff.error().message;
    }
    EXPECT_FALSE(std::filesystem::exists(dir / "big"));
    EXPECT_FALSE(std::filesystem::exists(dir / "1"));
    for (const auto& entry : std::filesystem::directory_iterator(dir.path)) {
        EXPECT_EQ(entry.path().filename().string().find(".guestmem-tmp-"), std::string::npos)
            << "a failed save left " << entry.path();
    }
    auto diff = snapshot::save(*source.vm, dir / "1", test::diff_of(dir / "0"));
    ASSERT_TRUE(diff) << diff.error().message;
    EXPECT_GE(diff->stored_pages, 101u) << "page 5 and pages 100-199";
    EmptyVm target;
    ASSERT_TRUE(snapshot::restore(*target.vm, dir / "1", no_devices(), snapshot::RestoreMode::eager));
    EXPECT_EQ(read_guest_value<std::uint64_t>(*target.vm, kBase + 5 * kPageSize).value(), 0x5555u);
    EXPECT_EQ(read_guest_value<std::uint64_t>(*target.vm, kBase + 6 * kPageSize).value(), 0u);
    EXPECT_EQ(read_guest_value<std::uint64_t>(*target.vm, kBase + 150 * kPageSize).value(), 0xd00u + 150);
    EXPECT_EQ(read_guest_value<std::uint64_t>(*target.vm, kBase + 8 * kPageSize).value(), 0xf08u);
}

TEST(FailedSave, BeforeCollectingLeavesTheDirtyPagesAlone) {
    ScratchDir dir;
    RamVm source;
    ASSERT_TRUE(source.vm->start_dirty_tracking());
    ASSERT_TRUE(snapshot::save(*source.vm, dir / "0"));
    ASSERT_TRUE(write_guest_value<std::uint64_t>(*source.vm, kBase, 7));
    // The temporary file cannot be made: nothing is collected.
    auto r = snapshot::save(*source.vm, dir / "no-such-folder" / "x");
    ASSERT_FALSE(r);
    EXPECT_EQ(r.code(), Errc::io_error);
    auto bits = source.vm->dirty_pages(kBase, kPages * kPageSize);
    ASSERT_TRUE(bits);
    EXPECT_TRUE(bits->test(0));
}

TEST(DirtyFramePages, ReportsAFreedReservationsFramesAndPutsPagesBack) {
    RamVm s;
    ASSERT_TRUE(s.vm->start_dirty_tracking());
    const Cap cap = s.frame();
    auto id = s.vm->reserve_at(0x40000000, kPageSize, [](Fault&) { return FaultResult::handled; });
    ASSERT_TRUE(id);
    ASSERT_TRUE(s.vm->map_frames(*id, std::span(&cap, 1), 12));
    auto layout = s.vm->layout();
    ASSERT_TRUE(layout);
    std::vector<std::shared_ptr<const Frame>> frames;
    for (const auto& r : layout->reservations) {
        for (const auto& m : r.frames) {
            if (r.info.id == *id) frames.push_back(m.frame);
        }
    }
    ASSERT_EQ(frames.size(), 1u);
    ASSERT_TRUE(write_guest_value<std::uint32_t>(*s.vm, 0x40000000 + 8, 1));
    ASSERT_TRUE(s.vm->free(*id));
    auto bits = s.vm->dirty_frame_pages(frames);
    ASSERT_TRUE(bits) << bits.error().message;
    EXPECT_EQ((*bits)[0][0], 1u) << "the write, though the reservation is gone";
    auto again = s.vm->dirty_frame_pages(frames);
    ASSERT_TRUE(again);
    EXPECT_EQ((*again)[0][0], 0u) << "collected once";
    ASSERT_TRUE(s.vm->redirty_frame_pages(frames, *bits));
    again = s.vm->dirty_frame_pages(frames);
    ASSERT_TRUE(again);
    EXPECT_EQ((*again)[0][0], 1u) << "put back";
    EXPECT_EQ(s.vm->redirty_frame_pages(frames, {}).code(), Errc::invalid_argument);
    std::vector<std::shared_ptr<const Frame>> null_frame{nullptr};
    EXPECT_EQ(s.vm->dirty_frame_pages(null_frame).code(), Errc::invalid_argument);
    ASSERT_TRUE(s.vm->stop_dirty_tracking());
    EXPECT_EQ(s.vm->redirty_frame_pages(frames, *bits).code(), Errc::invalid_argument);
    EXPECT_EQ(s.vm->dirty_frame_pages(frames).code(), Errc::invalid_argument);
}

}  // namespace
}  // namespace guestmem
