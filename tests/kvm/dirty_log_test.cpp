// SPDX-License-Identifier: BSD-2-Clause
// Dirty logging on the KVM backend: the memslot table's side against a fake
// KVM (flags, order of KVM_GET_DIRTY_LOG / KVM_CLEAR_DIRTY_LOG / marking,
// harvest before removal; no /dev/kvm needed), then real guests whose writes
// KVM performs itself, seen through Vm::dirty_pages.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <functional>
#include <map>
#include <span>
#include <string>
#include <thread>
#include <vector>

#include "../../src/core/dirty_log.hpp"
#include "guestmem/sim.hpp"
#include "kvm_backend.hpp"
#include "kvm_test_support.hpp"
#include "memslot_table.hpp"

namespace guestmem {
namespace {

using Pages = std::vector<GuestAddr>;

// ---------------------------------------------------------------------------
// MemslotTable against a fake KVM.

alignas(4096) std::byte g_arena[64 * 4096];

// Plays KVM's part: slots with their flags, a dirty bitmap per slot that
// tests fill in, and a record of the calls in order.
struct FakeKvm {
    std::map<std::uint32_t, kvm_userspace_memory_region> slots;
    std::map<std::uint32_t, std::vector<std::uint64_t>> dirty;  // KVM's bits per slot
    std::vector<std::string> calls;
    int fail_write = -1;           // 0-based index among writes to refuse
    std::uint32_t fail_get = ~0u;  // slot whose KVM_GET_DIRTY_LOG fails
    int writes = 0;
    std::function<void()> on_clear;  // runs inside KVM_CLEAR_DIRTY_LOG

    kvm::MemslotTable::Writer writer() {
        return [this](const kvm_userspace_memory_region& r) -> Result<void> {
            if (writes++ == fail_write) return Error{Errc::backend_error, "fake KVM refuses"};
            calls.push_back((r.memory_size == 0 ? "delete " : "set ") + std::to_string(r.slot) +
                            ((r.flags & KVM_MEM_LOG_DIRTY_PAGES) ? " log" : ""));
            if (r.memory_size == 0) {
                slots.erase(r.slot);
                dirty.erase(r.slot);
            } else {
                slots[r.slot] = r;
                if (!(r.flags & KVM_MEM_LOG_DIRTY_PAGES)) dirty.erase(r.slot);
            }
            return {};
        };
    }
    kvm::MemslotTable::DirtyOps ops(bool with_clear) {
        kvm::MemslotTable::DirtyOps ops;
        ops.get = [this](std::uint32_t slot, std::uint64_t* bitmap) -> Result<void> {
            calls.push_back("get " + std::to_string(slot));
            if (slot == fail_get) return Error{Errc::backend_error, "KVM_GET_DIRTY_LOG: fake failure"};
            const auto& r = slots.at(slot);
            if (!(r.flags & KVM_MEM_LOG_DIRTY_PAGES)) return Error{Errc::backend_error, "slot does not log"};
            auto& bits = dirty[slot];
            bits.resize((r.memory_size / kPageSize + 63) / 64);
            std::copy(bits.begin(), bits.end(), bitmap);
            if (!manual) std::fill(bits.begin(), bits.end(), 0);  // cleared as read
            return {};
        };
        if (with_clear) {
            ops.clear = [this](std::uint32_t slot, std::uint64_t pages, std::uint64_t* bitmap) -> Result<void> {
                calls.push_back("clear " + std::to_string(slot) + " " + std::to_string(pages));
                auto& bits = dirty[slot];
                for (std::size_t w = 0; w < bits.size(); ++w) bits[w] &= ~bitmap[w];
                if (on_clear) on_clear();
                return {};
            };
        }
        return ops;
    }
    void write_page(std::uint32_t slot, std::uint64_t page) {
        auto& bits = dirty[slot];
        bits.resize(std::max<std::size_t>(bits.size(), page / 64 + 1));
        bits[page / 64] |= std::uint64_t{1} << (page % 64);
    }
    bool manual = false;
};

// The frames' log of g_arena with tracker 0 attached.
struct ArenaLog {
    DirtyLog log{g_arena, sizeof(g_arena)};
    ArenaLog() { EXPECT_TRUE(log.attach(0)); }
    // Arena pages marked since the last call.
    std::vector<std::uint64_t> collect() {
        std::vector<std::uint64_t> pages;
        log.collect(0, g_arena, sizeof(g_arena), [&](std::uint64_t p) { pages.push_back(p); });
        return pages;
    }
};

MappedRun run_at(GuestAddr gpa, std::uint64_t pages, std::size_t arena_page, DirtyLog* dirty,
                 Rights rights = Rights::read_write) {
    return MappedRun{gpa, pages * kPageSize, g_arena + arena_page * kPageSize, rights, dirty};
}

using U64s = std::vector<std::uint64_t>;
using Strings = std::vector<std::string>;

TEST(MemslotTableDirty, StartFlagsWritableTrackedSlotsAndLaterOnesAndStopClearsThem) {
    FakeKvm kvm;
    ArenaLog arena;
    kvm::MemslotTable table(8, kvm.writer(), kvm.ops(true));
    const MappedRun runs[] = {run_at(0x10000, 2, 0, &arena.log),                // slot 0: logs
                              run_at(0x20000, 1, 2, &arena.log, Rights::read),  // slot 1: the guest cannot write
                              run_at(0x30000, 1, 3, nullptr)};                  // slot 2: no tracker sees it
    ASSERT_TRUE(table.install(runs));
    kvm.calls.clear();
    ASSERT_TRUE(table.start_logging(true));
    EXPECT_TRUE(table.logging());
    EXPECT_EQ(kvm.calls, (Strings{"set 0 log"}));
    EXPECT_EQ(kvm.slots[0].flags, static_cast<std::uint32_t>(KVM_MEM_LOG_DIRTY_PAGES));
    EXPECT_EQ(kvm.slots[0].guest_phys_addr, 0x10000u) << "re-registered in place";
    EXPECT_EQ(kvm.slots[0].memory_size, 2 * kPageSize);
    EXPECT_EQ(kvm.slots[1].flags, static_cast<std::uint32_t>(KVM_MEM_READONLY)) << "read-only stays as it was";
    ASSERT_TRUE(table.start_logging(true)) << "idempotent";
    EXPECT_EQ(kvm.calls.size(), 1u);

    const MappedRun later[] = {run_at(0x40000, 1, 4, &arena.log)};
    ASSERT_TRUE(table.install(later));
    EXPECT_EQ(kvm.slots[3].flags, static_cast<std::uint32_t>(KVM_MEM_LOG_DIRTY_PAGES));
    EXPECT_EQ(table.logging_slots(), 2u);

    kvm.calls.clear();
    table.stop_logging();
    EXPECT_FALSE(table.logging());
    EXPECT_EQ(kvm.calls, (Strings{"set 0", "set 3"}));
    EXPECT_EQ(kvm.slots[0].flags, 0u);
    EXPECT_EQ(table.logging_slots(), 0u);
    const MappedRun plain[] = {run_at(0x50000, 1, 5, &arena.log)};
    ASSERT_TRUE(table.install(plain));
    EXPECT_EQ(kvm.slots[4].flags, 0u);
}

TEST(MemslotTableDirty, HarvestClearsInKvmBeforeItMarksTheFramesPages) {
    FakeKvm kvm;
    kvm.manual = true;
    ArenaLog arena;
    kvm::MemslotTable table(8, kvm.writer(), kvm.ops(true));
    const MappedRun runs[] = {run_at(0x100000, 40, 20, &arena.log)};
    ASSERT_TRUE(table.install(runs));
    ASSERT_TRUE(table.start_logging(true));
    kvm.write_page(0, 0);
    kvm.write_page(0, 5);
    kvm.write_page(0, 6);
    kvm.write_page(0, 39);
    // A tracker collecting while KVM_CLEAR_DIRTY_LOG runs must find nothing
    // yet: a mark before the clear could be collected, and a guest write in
    // between would then be lost.
    U64s during_clear{99};
    kvm.on_clear = [&] { during_clear = arena.collect(); };
    kvm.calls.clear();
    ASSERT_TRUE(table.harvest());
    EXPECT_EQ(kvm.calls, (Strings{"get 0", "clear 0 40"}));
    EXPECT_EQ(during_clear, U64s{});
    EXPECT_EQ(arena.collect(), (U64s{20, 25, 26, 59})) << "slot pages at the slot's place in the arena";
    EXPECT_EQ(kvm.dirty[0], (U64s{0})) << "KVM's bits were cleared";

    // Nothing logged: a get, no clear.
    kvm.calls.clear();
    ASSERT_TRUE(table.harvest());
    EXPECT_EQ(kvm.calls, (Strings{"get 0"}));
    EXPECT_EQ(arena.collect(), U64s{});
}

TEST(MemslotTableDirty, WithoutManualProtectTheGetAloneClears) {
    FakeKvm kvm;
    ArenaLog arena;
    kvm::MemslotTable table(8, kvm.writer(), kvm.ops(false));
    EXPECT_EQ(table.start_logging(true).code(), Errc::unsupported) << "manual clearing needs a clear operation";
    EXPECT_FALSE(table.logging());
    const MappedRun runs[] = {run_at(0x100000, 4, 0, &arena.log)};
    ASSERT_TRUE(table.install(runs));
    ASSERT_TRUE(table.start_logging(false));
    kvm.write_page(0, 3);
    kvm.calls.clear();
    ASSERT_TRUE(table.harvest());
    EXPECT_EQ(kvm.calls, (Strings{"get 0"}));
    EXPECT_EQ(arena.collect(), (U64s{3}));
    ASSERT_TRUE(table.harvest());
    EXPECT_EQ(arena.collect(), U64s{});
}

TEST(MemslotTableDirty, RemovingALoggingSlotHarvestsItFirst) {
    FakeKvm kvm;
    kvm.manual = true;
    ArenaLog arena;
    kvm::MemslotTable table(8, kvm.writer(), kvm.ops(true));
    const MappedRun runs[] = {run_at(0x100000, 4, 0, &arena.log), run_at(0x200000, 4, 8, &arena.log)};
    ASSERT_TRUE(table.install(runs));
    ASSERT_TRUE(table.start_logging(true));
    kvm.write_page(0, 1);
    kvm.write_page(1, 2);
    kvm.calls.clear();
    const MappedRun first[] = {runs[0]};
    table.uninstall(first);
    EXPECT_EQ(kvm.calls, (Strings{"get 0", "clear 0 4", "delete 0 log"}));
    EXPECT_EQ(arena.collect(), (U64s{1})) << "the removed slot's writes, and only those";
    EXPECT_EQ(table.logging_slots(), 1u);
}

TEST(MemslotTableDirty, AFailedStartUndoesItsFlagsAndAFailedGetSparesTheOtherSlots) {
    FakeKvm kvm;
    kvm.manual = true;
    ArenaLog arena;
    kvm::MemslotTable table(8, kvm.writer(), kvm.ops(true));
    const MappedRun runs[] = {run_at(0x100000, 1, 0, &arena.log), run_at(0x200000, 1, 1, &arena.log)};
    ASSERT_TRUE(table.install(runs));
    kvm.fail_write = kvm.writes + 1;  // the second slot's flag
    auto refused = table.start_logging(true);
    ASSERT_FALSE(refused);
    EXPECT_EQ(refused.code(), Errc::backend_error);
    EXPECT_FALSE(table.logging());
    EXPECT_EQ(table.logging_slots(), 0u);
    EXPECT_EQ(kvm.slots[0].flags, 0u) << "the first slot's flag was taken back";

    ASSERT_TRUE(table.start_logging(true));
    kvm.write_page(0, 0);
    kvm.write_page(1, 0);
    kvm.fail_get = 0;
    auto harvested = table.harvest();
    ASSERT_FALSE(harvested);
    EXPECT_EQ(harvested.code(), Errc::backend_error);
    EXPECT_NE(harvested.error().message.find("KVM_GET_DIRTY_LOG"), std::string::npos) << harvested.error().message;
    EXPECT_EQ(arena.collect(), (U64s{1})) << "slot 1 was harvested all the same";
    kvm.fail_get = ~0u;
    ASSERT_TRUE(table.harvest());
    EXPECT_EQ(arena.collect(), (U64s{0})) << "slot 0's bits were kept in KVM for the next harvest";
}

}  // namespace

// ---------------------------------------------------------------------------
// Real guests on KVM.

namespace test {
namespace {

// Stores a counter to `count` places `stride` bytes apart from `base`, pass
// after pass, the counter one higher each pass; halts after `passes` passes
// (0: never). No stack, no other memory written.
//   rdi base, rsi count (>= 1), rdx stride, rcx passes; r8 the counter
constexpr std::uint8_t kStoreLoop[] = {
    0x49, 0xff, 0xc0,  // 0x00 outer: inc %r8
    0x48, 0x89, 0xf8,  // 0x03        mov %rdi, %rax
    0x49, 0x89, 0xf1,  // 0x06        mov %rsi, %r9
    0x4c, 0x89, 0x00,  // 0x09 inner: mov %r8, (%rax)
    0x48, 0x01, 0xd0,  // 0x0c        add %rdx, %rax
    0x49, 0xff, 0xc9,  // 0x0f        dec %r9
    0x75, 0xf5,        // 0x12        jnz inner
    0x48, 0xff, 0xc9,  // 0x14        dec %rcx
    0x75, 0xe7,        // 0x17        jnz outer
    0xf4,              // 0x19 done:  hlt
    0xeb, 0xfd,        // 0x1a        jmp done
};

constexpr GuestAddr kRegion = 0x400000;  // the pages the tests look at
constexpr std::uint64_t kRegionPages = 32;
// The boot tables' pages: the CPU sets accessed and dirty bits there.
constexpr Range kTablePages{kTables, 0x7000};

FaultHandler refuse() {
    return [](Fault&) { return FaultResult::error; };
}

kvm::KvmBackend& kvm_backend(Vm& vm) {
    // Only KvmBackend reports BackendKind::kvm.
    EXPECT_EQ(vm.backend().kind(), BackendKind::kvm);
    return static_cast<kvm::KvmBackend&>(vm.backend());
}

Pages dirty(Vm& vm, GuestAddr addr, std::uint64_t size) {
    auto bitmap = vm.dirty_pages(addr, size);
    EXPECT_TRUE(bitmap) << (bitmap ? "" : bitmap.error().message);
    Pages pages;
    if (!bitmap) return pages;
    for (const Range& r : bitmap->ranges()) {
        for (GuestAddr a = r.base; a < r.end(); a += kPageSize) pages.push_back(a);
    }
    return pages;
}

// How KVM logs: KVM_GET_DIRTY_LOG + KVM_CLEAR_DIRTY_LOG when KVM offers
// manual protect (as here), or KVM_GET_DIRTY_LOG alone, as without it.
enum class LogMode { manual_protect, get_alone };

// A KVM guest running kStoreLoop, with kRegionPages fresh frames at kRegion.
struct StoreGuest {
    explicit StoreGuest(LogMode mode, std::shared_ptr<CapabilitySpace> caps = nullptr) {
        g = GuestVm::create(BackendKind::kvm, std::move(caps));
        if (!g) return;
        if (mode == LogMode::get_alone) {
            EXPECT_TRUE(kvm_backend(g->vm()).use_get_dirty_log_alone());
        }
        EXPECT_TRUE(write_guest(g->vm(), kImage, std::as_bytes(std::span(kStoreLoop))));
        vcpu = &g->add_vcpu();
        auto reserved = g->vm().reserve_at(kRegion, kRegionPages * kPageSize, refuse());
        EXPECT_TRUE(reserved);
        if (!reserved) return;
        region = *reserved;
        frames = allocate_frames(g->caps(), kRegionPages);
        EXPECT_TRUE(g->vm().map_frames(region, frames, kPageBits));
    }
    bool ok() const { return g && vcpu; }
    Vm& vm() { return g->vm(); }
    // One pass of stores; the counter restarts, so each store writes 1.
    RunResult store(GuestAddr base, std::uint64_t count, std::uint64_t stride) {
        g->reset(*vcpu, {base, count, stride, 1});
        return g->run(*vcpu);
    }
    Pages region_dirty() { return dirty(vm(), kRegion, kRegionPages * kPageSize); }

    std::unique_ptr<GuestVm> g;
    Vcpu* vcpu = nullptr;
    ReservationId region{};
    std::vector<Cap> frames;
};

// A sim VM on `caps` mapping `frames` at `base` (no guest code runs in it).
std::unique_ptr<Vm> sim_vm(std::shared_ptr<CapabilitySpace> caps, GuestAddr base, const std::vector<Cap>& frames) {
    auto vm = std::make_unique<Vm>(sim::create_backend(Arch::x86_64), std::move(caps));
    EXPECT_TRUE(vm->init_memory());
    auto reserved = vm->reserve_at(base, frames.size() * kPageSize, refuse());
    EXPECT_TRUE(reserved);
    if (reserved) {
        EXPECT_TRUE(vm->map_frames(*reserved, frames, kPageBits));
    }
    return vm;
}

class KvmDirtyLog : public ::testing::TestWithParam<LogMode> {
protected:
    LogMode mode() const { return GetParam(); }
};

TEST_P(KvmDirtyLog, GuestWritesAreReportedExactlyOnce) {
    GUESTMEM_REQUIRE_KVM();
    StoreGuest s(mode());
    ASSERT_TRUE(s.ok());
    ASSERT_TRUE(s.vm().start_dirty_tracking());
    std::printf("[ info     ] KVM dirty logging %s\n", kvm_backend(s.vm()).manual_dirty_clear()
                                                           ? "with KVM_CLEAR_DIRTY_LOG (manual protect)"
                                                           : "with KVM_GET_DIRTY_LOG alone");
    if (mode() == LogMode::get_alone) {
        EXPECT_FALSE(kvm_backend(s.vm()).manual_dirty_clear());
    }
    EXPECT_EQ(kvm_backend(s.vm()).dirty_logging_slots(), 2u) << "RAM and the region";
    EXPECT_EQ(s.region_dirty(), Pages{});
    const RunResult r = s.store(kRegion + 0x3000, 4, 0x5000);
    ASSERT_EQ(r.reason, StopReason::halted) << r.message;
    EXPECT_EQ(r.exits.mmio, 0u) << "KVM performed the stores itself";
    EXPECT_EQ(s.region_dirty(), (Pages{kRegion + 0x3000, kRegion + 0x8000, kRegion + 0xd000, kRegion + 0x12000}));
    EXPECT_EQ(s.region_dirty(), Pages{}) << "collected once";
    EXPECT_EQ(read_guest_value<std::uint64_t>(s.vm(), kRegion + 0x12000).value(), 1u);
    // In RAM the guest wrote nothing itself; only the CPU's page-table
    // accessed/dirty bits may show.
    for (GuestAddr page : dirty(s.vm(), kRamBase, kRamSize)) {
        EXPECT_TRUE(kTablePages.contains(page)) << "page " << std::hex << page << " reported dirty";
    }
}

TEST_P(KvmDirtyLog, VmmWritesAreReported) {
    GUESTMEM_REQUIRE_KVM();
    StoreGuest s(mode());
    ASSERT_TRUE(s.ok());
    ASSERT_TRUE(s.vm().start_dirty_tracking());
    ASSERT_TRUE(write_guest_value<std::uint64_t>(s.vm(), kRegion + 0x7010, 42));
    EXPECT_EQ(s.region_dirty(), (Pages{kRegion + 0x7000}));
}

TEST_P(KvmDirtyLog, KvmGuestWritesToASharedFrameShowInASimVmThatTracks) {
    GUESTMEM_REQUIRE_KVM();
    auto caps = std::make_shared<CapabilitySpace>();
    StoreGuest s(mode(), caps);
    ASSERT_TRUE(s.ok());
    constexpr GuestAddr kInSim = 0x900000;
    auto sim = sim_vm(caps, kInSim, {s.frames[3], s.frames[4]});
    ASSERT_TRUE(sim->start_dirty_tracking());
    EXPECT_FALSE(s.vm().dirty_tracking());
    EXPECT_EQ(kvm_backend(s.vm()).dirty_logging_slots(), 2u) << "the KVM VM logs for the sim VM's tracker";
    // Pages 3 and 10 of the region: the sim VM maps the first only.
    const RunResult r = s.store(kRegion + 0x3000, 2, 0x7000);
    ASSERT_EQ(r.reason, StopReason::halted) << r.message;
    EXPECT_EQ(dirty(*sim, kInSim, 2 * kPageSize), (Pages{kInSim}));
    EXPECT_EQ(read_guest_value<std::uint64_t>(*sim, kInSim).value(), 1u);
    ASSERT_TRUE(sim->stop_dirty_tracking());
    EXPECT_EQ(kvm_backend(s.vm()).dirty_logging_slots(), 0u) << "the last tracker stopped";
}

TEST_P(KvmDirtyLog, NoGuestWriteIsLostWhileTheVmmCollectsConcurrently) {
    GUESTMEM_REQUIRE_KVM();
    StoreGuest s(mode());
    ASSERT_TRUE(s.ok());
    constexpr std::uint64_t kPages = 16;
    ASSERT_TRUE(s.vm().start_dirty_tracking());
    // Forever (passes 0) until request_stop.
    s.g->reset(*s.vcpu, {kRegion, kPages, kPageSize, 0});
    RunResult r;
    std::thread guest([&] { r = s.g->run(*s.vcpu); });
    // The collector keeps a copy of the counter of every page, refreshed for
    // the pages each collection reports: a lost write leaves the copy stale.
    std::vector<std::uint64_t> copy(kPages, 0);
    std::uint64_t rounds = 0, reported = 0;
    auto collect = [&] {
        auto bitmap = s.vm().dirty_pages(kRegion, kPages * kPageSize);
        ASSERT_TRUE(bitmap) << bitmap.error().message;
        for (std::uint64_t p = 0; p < kPages; ++p) {
            if (!bitmap->test(p)) continue;
            ++reported;
            copy[p] = read_guest_value<std::uint64_t>(s.vm(), kRegion + p * kPageSize).value();
        }
        ++rounds;
    };
    // At least 500 ms and 50 rounds, and (on a loaded host, where the guest
    // may get little CPU) until pages were reported more than twice each,
    // within a deadline only a guest whose writes are never reported reaches.
    const auto start = std::chrono::steady_clock::now();
    auto more = [&] {
        const auto now = std::chrono::steady_clock::now();
        return now < start + std::chrono::milliseconds(500) || rounds < 50 ||
               (reported <= 2 * kPages && now < start + std::chrono::seconds(30));
    };
    while (more()) collect();
    s.vcpu->request_stop();
    guest.join();
    EXPECT_EQ(r.reason, StopReason::stopped) << r.message;
    collect();
    for (std::uint64_t p = 0; p < kPages; ++p) {
        const std::uint64_t last = read_guest_value<std::uint64_t>(s.vm(), kRegion + p * kPageSize).value();
        EXPECT_GT(last, 0u) << "page " << p << " was written";
        EXPECT_EQ(copy[p], last) << "page " << p << ": its last write was never reported";
    }
    EXPECT_GT(reported, 2 * kPages) << "collections reported pages while the guest wrote";
    std::printf("[ info     ] %llu collections, %llu pages reported, counter reached %llu\n",
                static_cast<unsigned long long>(rounds), static_cast<unsigned long long>(reported),
                static_cast<unsigned long long>(copy[0]));
}

// Harvests (tracker lock, then the memslot lock) race with maps and frees
// (the VM's change lock, then the memslot lock) and a running guest: no
// deadlock, no error, and slots mapped in between log.
TEST_P(KvmDirtyLog, CollectingWhileMemoryIsMappedAndFreedAndTheGuestRuns) {
    GUESTMEM_REQUIRE_KVM();
    StoreGuest s(mode());
    ASSERT_TRUE(s.ok());
    ASSERT_TRUE(s.vm().start_dirty_tracking());
    s.g->reset(*s.vcpu, {kRegion, kRegionPages, kPageSize, 0});
    RunResult r;
    std::thread guest([&] { r = s.g->run(*s.vcpu); });
    std::atomic<bool> done{false};
    std::atomic<int> churns{0};
    const std::vector<Cap> frames = allocate_frames(s.g->caps(), 8);
    std::thread churn([&] {
        while (!done.load()) {
            auto id = s.vm().reserve_at(0x600000, 8 * kPageSize, refuse());
            ASSERT_TRUE(id);
            ASSERT_TRUE(s.vm().map_frames(*id, frames, kPageBits));
            EXPECT_EQ(kvm_backend(s.vm()).dirty_logging_slots(), 3u) << "the new slot logs";
            ASSERT_TRUE(write_guest_value<std::uint64_t>(s.vm(), 0x603000, 1));
            ASSERT_TRUE(s.vm().free(*id));
            churns.fetch_add(1);
        }
    });
    std::uint64_t region_reports = 0;
    // At least 300 ms and 20 churns, and (on a loaded host, where the guest
    // may get little CPU) until the guest's writes were reported more than
    // once per page, within a deadline that only a guest whose writes are
    // never reported reaches.
    const auto start = std::chrono::steady_clock::now();
    const auto until = start + std::chrono::milliseconds(300);
    const auto deadline = start + std::chrono::seconds(30);
    auto more = [&] {
        const auto now = std::chrono::steady_clock::now();
        return now < until || churns.load() < 20 || (region_reports <= kRegionPages && now < deadline);
    };
    while (more()) {
        auto bitmap = s.vm().dirty_pages(kRegion, kRegionPages * kPageSize);
        ASSERT_TRUE(bitmap) << bitmap.error().message;
        region_reports += bitmap->count();
        ASSERT_TRUE(s.vm().dirty_pages(0x600000, 8 * kPageSize));
    }
    done.store(true);
    churn.join();
    s.vcpu->request_stop();
    guest.join();
    EXPECT_EQ(r.reason, StopReason::stopped) << r.message;
    EXPECT_GT(region_reports, kRegionPages) << "the guest's writes were reported throughout";
    EXPECT_EQ(kvm_backend(s.vm()).dirty_logging_slots(), 2u) << "RAM and the region; the churned slot is gone";
}

TEST_P(KvmDirtyLog, MemoryMappedAfterTheStartIsLogged) {
    GUESTMEM_REQUIRE_KVM();
    StoreGuest s(mode());
    ASSERT_TRUE(s.ok());
    ASSERT_TRUE(s.vm().start_dirty_tracking());
    constexpr GuestAddr kLater = 0x600000;
    auto later = s.vm().reserve_at(kLater, 4 * kPageSize, refuse());
    ASSERT_TRUE(later);
    ASSERT_TRUE(s.vm().map_frames(*later, allocate_frames(s.g->caps(), 4), kPageBits));
    EXPECT_EQ(kvm_backend(s.vm()).dirty_logging_slots(), 3u);
    const RunResult r = s.store(kLater + 0x1000, 2, 0x2000);
    ASSERT_EQ(r.reason, StopReason::halted) << r.message;
    EXPECT_EQ(dirty(s.vm(), kLater, 4 * kPageSize), (Pages{kLater + 0x1000, kLater + 0x3000}));
}

TEST_P(KvmDirtyLog, WritesBeforeAFreeAreNotLost) {
    GUESTMEM_REQUIRE_KVM();
    auto caps = std::make_shared<CapabilitySpace>();
    StoreGuest s(mode(), caps);
    ASSERT_TRUE(s.ok());
    // The region's frames stay mapped in a tracking sim VM: they outlive the free.
    constexpr GuestAddr kInSim = 0x900000;
    auto sim = sim_vm(caps, kInSim, s.frames);
    ASSERT_TRUE(sim->start_dirty_tracking());
    ASSERT_TRUE(s.vm().start_dirty_tracking());
    const RunResult r = s.store(kRegion + 0x2000, 3, 0x4000);
    ASSERT_EQ(r.reason, StopReason::halted) << r.message;
    // No collection between the writes and the free: only the harvest the
    // slot's removal does can save them.
    ASSERT_TRUE(s.vm().free(s.region));
    EXPECT_EQ(kvm_backend(s.vm()).dirty_logging_slots(), 1u) << "RAM only";
    EXPECT_EQ(dirty(*sim, kInSim, kRegionPages * kPageSize),
              (Pages{kInSim + 0x2000, kInSim + 0x6000, kInSim + 0xa000}));
    // The KVM VM's own tracker finds them too, once the frames are mapped again.
    constexpr GuestAddr kAgain = 0x800000;
    auto again = s.vm().reserve_at(kAgain, kRegionPages * kPageSize, refuse());
    ASSERT_TRUE(again);
    ASSERT_TRUE(s.vm().map_frames(*again, s.frames, kPageBits));
    EXPECT_EQ(dirty(s.vm(), kAgain, kRegionPages * kPageSize),
              (Pages{kAgain + 0x2000, kAgain + 0x6000, kAgain + 0xa000}));
}

TEST_P(KvmDirtyLog, StoppingMakesSlotsPlainAndRestartingStartsClean) {
    GUESTMEM_REQUIRE_KVM();
    StoreGuest s(mode());
    ASSERT_TRUE(s.ok());
    ASSERT_TRUE(s.vm().start_dirty_tracking());
    ASSERT_EQ(s.store(kRegion, 1, kPageSize).reason, StopReason::halted);
    ASSERT_TRUE(s.vm().stop_dirty_tracking());
    EXPECT_EQ(kvm_backend(s.vm()).dirty_logging_slots(), 0u);
    // The guest still runs and writes with plain slots.
    RunResult r = s.store(kRegion + 0x5000, 2, kPageSize);
    ASSERT_EQ(r.reason, StopReason::halted) << r.message;
    EXPECT_EQ(r.exits.mmio, 0u);
    EXPECT_EQ(read_guest_value<std::uint64_t>(s.vm(), kRegion + 0x6000).value(), 1u);
    ASSERT_TRUE(s.vm().start_dirty_tracking());
    EXPECT_EQ(kvm_backend(s.vm()).dirty_logging_slots(), 2u);
    EXPECT_EQ(s.region_dirty(), Pages{}) << "writes while tracking was off are not reported";
    r = s.store(kRegion + 0x9000, 1, kPageSize);
    ASSERT_EQ(r.reason, StopReason::halted) << r.message;
    EXPECT_EQ(s.region_dirty(), (Pages{kRegion + 0x9000}));
}

// Prints what a harvest of a 1 GiB slot with 1% of its pages dirty costs
// (no timing assertion: the figure depends on the host).
TEST_P(KvmDirtyLog, MeasureHarvestOfA1GiBSlotOnePercentDirty) {
    GUESTMEM_REQUIRE_KVM();
    StoreGuest s(mode());
    ASSERT_TRUE(s.ok());
    constexpr GuestAddr kBig = std::uint64_t{1} << 30;
    constexpr std::uint64_t kBigSize = std::uint64_t{1} << 30;
    constexpr std::uint64_t kStride = 100;                                            // pages
    constexpr std::uint64_t kDirty = (kBigSize / kPageSize + kStride - 1) / kStride;  // 2622
    auto frame = s.g->caps().allocate_frame(FrameSize::k1GiB);
    ASSERT_TRUE(frame);
    auto big = s.vm().reserve_at(kBig, kBigSize, refuse());
    ASSERT_TRUE(big);
    const Cap frames[] = {*frame};
    ASSERT_TRUE(s.vm().map_frames(*big, frames, 30));
    ASSERT_TRUE(s.vm().start_dirty_tracking());
    using Clock = std::chrono::steady_clock;
    auto us = [](Clock::duration d) { return std::chrono::duration<double, std::micro>(d).count(); };
    std::vector<double> harvest, empty, collect;
    for (int round = 0; round < 5; ++round) {
        const RunResult r = s.store(kBig, kDirty, kStride * kPageSize);
        ASSERT_EQ(r.reason, StopReason::halted) << r.message;
        auto t0 = Clock::now();
        ASSERT_TRUE(s.vm().backend().harvest_dirty_log());
        auto t1 = Clock::now();
        ASSERT_TRUE(s.vm().backend().harvest_dirty_log());
        auto t2 = Clock::now();
        auto bitmap = s.vm().dirty_pages(kBig, kBigSize);
        auto t3 = Clock::now();
        ASSERT_TRUE(bitmap);
        EXPECT_EQ(bitmap->count(), kDirty);
        EXPECT_TRUE(bitmap->test(0) && bitmap->test(kStride) && !bitmap->test(1));
        harvest.push_back(us(t1 - t0));
        empty.push_back(us(t2 - t1));
        collect.push_back(us(t3 - t2));
    }
    auto median = [](std::vector<double> v) {
        std::sort(v.begin(), v.end());
        return v[v.size() / 2];
    };
    std::printf("[ measure  ] 1 GiB slot, %llu of 262144 pages dirty (%s): harvest %.0f us (min %.0f), "
                "harvest with nothing dirty %.0f us, dirty_pages over the 1 GiB %.0f us (medians of %zu)\n",
                static_cast<unsigned long long>(kDirty),
                kvm_backend(s.vm()).manual_dirty_clear() ? "GET + CLEAR" : "GET", median(harvest),
                *std::min_element(harvest.begin(), harvest.end()), median(empty), median(collect), harvest.size());
}

INSTANTIATE_TEST_SUITE_P(Modes, KvmDirtyLog, ::testing::Values(LogMode::manual_protect, LogMode::get_alone),
                         [](const ::testing::TestParamInfo<LogMode>& info) {
                             return std::string(info.param == LogMode::manual_protect ? "ManualProtect" : "GetAlone");
                         });

}  // namespace
}  // namespace test
}  // namespace guestmem
