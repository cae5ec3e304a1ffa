// SPDX-License-Identifier: BSD-2-Clause
// Exhausting resources gives clean, typed errors and leaves nothing half
// done: KVM memory slots, anonymous space, and the frame budget (host memory
// for frames), directly and through guest RAM registration.
#include <gtest/gtest.h>

#include "guestmem/guest_ram.hpp"
#include "kvm_test_support.hpp"
#include "stress_support.hpp"

namespace guestmem::stress {
namespace {

FaultResult refuse(Fault&) { return FaultResult::error; }

TEST(Exhaustion, KvmMemorySlotsRunOutCleanlyAndComeBack) {
    GUESTMEM_REQUIRE_KVM();
    kvm::BackendOptions options;
    options.max_slots = 4;
    auto g = test::GuestVm::create_kvm(options);
    ASSERT_TRUE(g);
    Vm& vm = g->vm();
    ASSERT_EQ(kvm::memslot_usage(vm.backend())->in_use, 1u);  // guest RAM
    // Frames apart in host memory need a slot each.
    std::vector<Cap> spaced;
    for (int i = 0; i < 8; ++i) {
        spaced.push_back(*g->caps().allocate_frame(FrameSize::k4KiB));
        (void)g->caps().allocate_frame(FrameSize::k4KiB);  // a gap in host memory
    }
    std::vector<ReservationId> filled;
    for (int i = 0; i < 3; ++i) {
        auto id = vm.reserve_at(0x400000 + i * 0x10000, kPageSize, refuse);
        ASSERT_TRUE(id);
        const Cap one[] = {spaced[i]};
        ASSERT_TRUE(vm.map_frames(*id, one, kPageBits));
        filled.push_back(*id);
    }
    ASSERT_EQ(kvm::memslot_usage(vm.backend())->in_use, 4u);
    // Full: a three-frame mapping (three slots) fails as a whole.
    auto big = vm.reserve_at(0x800000, 3 * kPageSize, refuse);
    ASSERT_TRUE(big);
    const Cap three[] = {spaced[4], spaced[5], spaced[6]};
    auto failed = vm.map_frames(*big, three, kPageBits);
    ASSERT_FALSE(failed);
    EXPECT_EQ(failed.code(), Errc::out_of_memory) << failed.error().message;
    EXPECT_EQ(kvm::memslot_usage(vm.backend())->in_use, 4u) << "nothing half mapped";
    for (const auto& info : vm.reservations()) {
        if (info.id == *big) {
            EXPECT_FALSE(info.mapped);
        }
    }
    // Free two slots: the same mapping still needs three and fails again, cleanly.
    ASSERT_TRUE(vm.free(filled[0]));
    ASSERT_TRUE(vm.free(filled[1]));
    EXPECT_EQ(vm.map_frames(*big, three, kPageBits).code(), Errc::out_of_memory);
    EXPECT_EQ(kvm::memslot_usage(vm.backend())->in_use, 2u);
    ASSERT_TRUE(vm.free(filled[2]));
    EXPECT_TRUE(vm.map_frames(*big, three, kPageBits)) << "with three free slots it fits";
    EXPECT_EQ(kvm::memslot_usage(vm.backend())->in_use, 4u);
    // The guest still runs in RAM and the new mapping serves the VMM.
    std::uint64_t v = 0x1122;
    EXPECT_TRUE(write_guest_value(vm, 0x802000, v));
    EXPECT_EQ(*read_guest_value<std::uint64_t>(vm, 0x802000), v);
}

TEST(Exhaustion, AnonymousSpaceRunsOutCleanlyAndIsReused) {
    auto caps = std::make_shared<CapabilitySpace>();
    auto vm = Vm::create(BackendKind::sim, caps).value();
    ASSERT_TRUE(vm->init_memory());
    constexpr GuestAddr kPool = 0x4000'0000;
    constexpr std::uint64_t kPages = 64;
    ASSERT_TRUE(vm->make_anon(kPool, kPages * kPageSize));
    std::vector<ReservationId> ids;
    for (;;) {
        auto r = vm->reserve_anon(kPageSize, 0, refuse);
        if (!r) {
            EXPECT_EQ(r.code(), Errc::no_space) << r.error().message;
            break;
        }
        ids.push_back(r->id);
        ASSERT_LE(ids.size(), kPages);
    }
    EXPECT_EQ(ids.size(), kPages);
    EXPECT_EQ(vm->pools().at(0).free_bytes, 0u);
    const std::size_t reservations = vm->reservations().size();
    EXPECT_EQ(vm->reserve_anon(2 * kPageSize, 0, refuse).code(), Errc::no_space);
    EXPECT_EQ(vm->reserve_anon(~std::uint64_t{0} - 5, 0, refuse).code(), Errc::invalid_argument);
    EXPECT_EQ(vm->reservations().size(), reservations) << "a failed request reserves nothing";
    // Free every other page: 32 free pages, but no two adjacent ones.
    for (std::size_t i = 0; i < ids.size(); i += 2) ASSERT_TRUE(vm->free(ids[i]));
    EXPECT_EQ(vm->pools().at(0).free_bytes, kPages / 2 * kPageSize);
    EXPECT_EQ(vm->reserve_anon(2 * kPageSize, 0, refuse).code(), Errc::no_space) << "fragmented: no 8 KiB run";
    auto one = vm->reserve_anon(kPageSize, 0, refuse);
    ASSERT_TRUE(one);
    EXPECT_EQ(one->addr, kPool) << "first fit reuses freed space";
    // Free the rest: the pool merges back and takes the whole size again.
    ASSERT_TRUE(vm->free(one->id));
    for (std::size_t i = 1; i < ids.size(); i += 2) ASSERT_TRUE(vm->free(ids[i]));
    auto whole = vm->reserve_anon(kPages * kPageSize, 0, refuse);
    ASSERT_TRUE(whole);
    EXPECT_EQ(whole->addr, kPool);
}

TEST(Exhaustion, FrameBudgetRunsOutCleanly) {
    CapabilitySpace::Options options;
    options.frame_budget = 16 * kPageSize;
    auto caps = std::make_shared<CapabilitySpace>(options);
    std::vector<Cap> frames;
    for (;;) {
        auto cap = caps->allocate_frame(FrameSize::k4KiB);
        if (!cap) {
            EXPECT_EQ(cap.code(), Errc::out_of_memory) << cap.error().message;
            break;
        }
        frames.push_back(*cap);
        ASSERT_LE(frames.size(), 16u);
    }
    EXPECT_EQ(frames.size(), 16u);
    EXPECT_EQ(caps->live_capabilities(), 16u);
    EXPECT_EQ(caps->frame_bytes_in_use(), 16 * kPageSize);
    EXPECT_EQ(caps->allocate_frame(FrameSize::k2MiB).code(), Errc::out_of_memory);
    EXPECT_EQ(caps->live_capabilities(), 16u) << "a failed allocation issues nothing";

    // A mapped frame keeps its budget after its capability is deleted; an
    // unmapped deleted one gives it back.
    auto vm = Vm::create(BackendKind::sim, caps).value();
    ASSERT_TRUE(vm->init_memory());
    auto id = vm->reserve_at(0x10000, kPageSize, refuse);
    ASSERT_TRUE(id);
    const Cap one[] = {frames[0]};
    ASSERT_TRUE(vm->map_frames(*id, one, kPageBits));
    ASSERT_TRUE(caps->remove(frames[0]));
    EXPECT_EQ(caps->allocate_frame(FrameSize::k4KiB).code(), Errc::out_of_memory);
    ASSERT_TRUE(caps->remove(frames[1]));
    auto again = caps->allocate_frame(FrameSize::k4KiB);
    ASSERT_TRUE(again);
    frames[1] = *again;
    ASSERT_TRUE(vm->free(*id));
    EXPECT_TRUE(caps->allocate_frame(FrameSize::k4KiB)) << "unmapping released the last holder";
}

TEST(Exhaustion, RamRegistrationBeyondTheFrameBudgetChangesNothing) {
    CapabilitySpace::Options options;
    options.frame_budget = 64 * kPageSize;
    auto caps = std::make_shared<CapabilitySpace>(options);
    auto vm = Vm::create(BackendKind::sim, caps).value();
    ASSERT_TRUE(vm->init_memory());
    ASSERT_TRUE(vm->ram().register_at(0x100000, 32 * kPageSize));
    const std::uint64_t bytes = caps->frame_bytes_in_use();
    const std::size_t live = caps->live_capabilities();
    const std::size_t reservations = vm->reservations().size();
    auto failed = vm->ram().register_at(0x800000, 40 * kPageSize);  // 8 pages over the budget
    ASSERT_FALSE(failed);
    EXPECT_EQ(failed.code(), Errc::out_of_memory) << failed.error().message;
    EXPECT_EQ(caps->frame_bytes_in_use(), bytes) << "frames allocated for the failed registration were released";
    EXPECT_EQ(caps->live_capabilities(), live);
    EXPECT_EQ(vm->reservations().size(), reservations) << "no reservation left behind";
    EXPECT_TRUE(vm->ram().register_at(0x800000, 32 * kPageSize)) << "what fits still registers";
    EXPECT_EQ(caps->frame_bytes_in_use(), 64 * kPageSize);
}

TEST(Exhaustion, HostMemoryForHugeFramesFailsCleanly) {
    // A budget larger than the arena: a 1 GiB frame needs a whole arena.
    CapabilitySpace::Options options;
    options.frame_budget = std::uint64_t{4} << 30;
    options.arena_bytes = std::uint64_t{1} << 30;
    CapabilitySpace caps(options);
    std::vector<Cap> huge;
    for (int i = 0; i < 8; ++i) {
        auto cap = caps.allocate_frame(FrameSize::k1GiB);
        if (!cap) {
            EXPECT_EQ(cap.code(), Errc::out_of_memory) << cap.error().message;
            break;
        }
        huge.push_back(*cap);
    }
    EXPECT_EQ(huge.size(), 4u) << "the budget, not the host, stops it";
    EXPECT_EQ(caps.frame_bytes_in_use(), std::uint64_t{4} << 30);
    for (Cap c : huge) ASSERT_TRUE(caps.remove(c));
    EXPECT_EQ(caps.frame_bytes_in_use(), 0u);
}

}  // namespace
}  // namespace guestmem::stress
