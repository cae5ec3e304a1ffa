// SPDX-License-Identifier: BSD-2-Clause
// Snapshots under mixed load, for GUESTMEM_STRESS_SECONDS: a VMM thread
// writes guest RAM, another reserves, maps and frees unrelated reservations
// (some with deferred mappings), and the main thread saves full and diff
// snapshots, some of them made to fail halfway by a file-size limit. Every
// save either succeeds or fails cleanly, and at the end the chain restores
// to exactly the VM's memory: no save, failed or not, lost a dirty page.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/resource.h>

#include <atomic>
#include <cstring>
#include <random>
#include <thread>

#include "guestmem/backend_registry.hpp"
#include "guestmem/guest_memory.hpp"
#include "snapshot_test_support.hpp"
#include "stress_support.hpp"

namespace guestmem {
namespace {

constexpr GuestAddr kBase = 0x100000;
constexpr std::uint64_t kPages = 2048;

std::vector<std::byte> ram_of(Vm& vm) {
    std::vector<std::byte> bytes(kPages * kPageSize);
    EXPECT_TRUE(read_guest(vm, kBase, bytes));
    return bytes;
}

class SnapshotSoak : public ::testing::TestWithParam<BackendKind> {};

TEST_P(SnapshotSoak, SavesUnderMixedLoadLoseNothing) {
    if (GetParam() == BackendKind::kvm && !std::filesystem::exists("/dev/kvm")) {
        GTEST_SKIP() << "/dev/kvm is absent: the KVM backend cannot run here";
    }
    auto caps = std::make_shared<CapabilitySpace>();
    auto created = Vm::create(GetParam(), caps, Arch::x86_64);
    ASSERT_TRUE(created) << created.error().message;
    Vm& vm = **created;
    ASSERT_TRUE(vm.init_memory());
    ASSERT_TRUE(vm.ram().register_at(kBase, kPages * kPageSize));
    ASSERT_TRUE(vm.start_dirty_tracking());
    test::ScratchDir dir;

    std::atomic<bool> stop{false};
    std::atomic<std::uint64_t> writes{0}, churns{0};
    std::thread writer([&] {
        std::mt19937_64 random(1);
        while (!stop.load(std::memory_order_relaxed)) {
            const GuestAddr at = kBase + (random() % (kPages * kPageSize / 8)) * 8;
            ASSERT_TRUE(write_guest_value<std::uint64_t>(vm, at, random() % 4 == 0 ? 0 : random()));
            writes.fetch_add(1, std::memory_order_relaxed);
        }
    });
    std::thread churn([&] {
        const Cap frame = caps->allocate_frame(FrameSize::k4KiB).value();
        for (int i = 0; !stop.load(std::memory_order_relaxed); ++i) {
            const GuestAddr at = 0x40000000 + static_cast<GuestAddr>(i % 32) * 0x10000;
            auto id = vm.reserve_at(at, kPageSize, [](Fault&) { return FaultResult::handled; });
            ASSERT_TRUE(id) << id.error().message;
            vm.set_deferred_mapping(i % 3 == 0);
            ASSERT_TRUE(vm.map_frames(*id, std::span(&frame, 1), 12));
            ASSERT_TRUE(vm.free(*id));
            churns.fetch_add(1, std::memory_order_relaxed);
        }
    });

    const auto deadline = std::chrono::steady_clock::now() + stress::stress_duration();
    std::filesystem::path parent;
    int saves = 0, failures = 0;
    for (int n = 0; std::chrono::steady_clock::now() < deadline || n < 10; ++n) {
        const auto path = dir / ("s" + std::to_string(n));
        snapshot::SaveOptions options;
        if (n % 10 != 0) options.parent = parent;
        if (n % 7 == 3) {
            // Fails once it has written 64 KiB: after collecting the dirty pages.
            rlimit saved_limit{};
            ::getrlimit(RLIMIT_FSIZE, &saved_limit);
            rlimit limited = saved_limit;
            limited.rlim_cur = 64 * 1024;
            const auto old = ::signal(SIGXFSZ, SIG_IGN);
            ::setrlimit(RLIMIT_FSIZE, &limited);
            auto saved = snapshot::save(vm, path, options);
            ::setrlimit(RLIMIT_FSIZE, &saved_limit);
            ::signal(SIGXFSZ, old);
            if (!saved) {
                EXPECT_EQ(saved.code(), Errc::io_error) << saved.error().message;
                ++failures;
                continue;
            }
        } else {
            auto saved = snapshot::save(vm, path, options);
            ASSERT_TRUE(saved) << "save " << n << ": " << saved.error().message;
        }
        parent = path;
        ++saves;
    }
    stop = true;
    writer.join();
    churn.join();
    // The last diff, with nothing writing: the chain must be the memory.
    const auto last = dir / "last";
    ASSERT_TRUE(snapshot::save(vm, last, test::diff_of(parent)));
    test::EmptyVm target;
    auto restored = snapshot::restore(*target.vm, last, test::HandlerLog{}.handlers(), snapshot::RestoreMode::eager);
    ASSERT_TRUE(restored) << restored.error().message;
    const auto expected = ram_of(vm);
    const auto actual = ram_of(*target.vm);
    std::size_t differing = 0;
    for (std::uint64_t p = 0; p < kPages; ++p) {
        differing += std::memcmp(expected.data() + p * kPageSize, actual.data() + p * kPageSize, kPageSize) != 0;
    }
    EXPECT_EQ(differing, 0u) << "pages whose newest contents no snapshot of the chain has";
    stress::report(std::string("snapshot soak on ") + std::string(to_string(GetParam())),
                   {{"saves", saves},
                    {"failed_saves", failures},
                    {"writes", static_cast<double>(writes.load())},
                    {"reservation_cycles", static_cast<double>(churns.load())}});
    EXPECT_GT(failures, 0) << "the file-size limit made no save fail";
}

INSTANTIATE_TEST_SUITE_P(Backends, SnapshotSoak,
                         ::testing::Values(BackendKind::sim, BackendKind::emu, BackendKind::kvm),
                         [](const auto& info) { return std::string(to_string(info.param)); });

}  // namespace
}  // namespace guestmem
