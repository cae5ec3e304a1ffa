// SPDX-License-Identifier: BSD-2-Clause
// Dirty tracking and snapshots through the C interface.
#include <gtest/gtest.h>

#include "capi_support.hpp"
#include "sel4vm/guest_ram.h"
#include "snapshot_test_support.hpp"

namespace guestmem {
namespace {

using test::CLogCapture;
using test::CVm;
using test::ScratchDir;

constexpr uintptr_t kRamBase = 0x100000;
constexpr uintptr_t kDev = 0xfee00000;
constexpr uintptr_t kBellAddr = 0xf0000000;

std::uint64_t access(vm_vcpu_t* vcpu, uintptr_t addr, bool write, std::uint64_t value = 0) {
    EXPECT_EQ(vm_sim_access(vcpu, addr, 8, write, &value), 0);
    return value;
}

memory_fault_result_t count_fault(vm_t*, vm_vcpu_t*, uintptr_t, size_t, void* cookie) {
    ++*static_cast<int*>(cookie);
    return FAULT_HANDLED;
}

void count_ring(vm_t*, uintptr_t, uint64_t count, void* cookie) {
    *static_cast<int*>(cookie) += static_cast<int>(count);
}

struct Counters {
    int faults = 0;
    int rings = 0;
    int asked = 0;
    bool refuse = false;
};

int give_handlers(vm_t*, uintptr_t addr, size_t size, vm_snapshot_kind_t kind, vm_snapshot_handler_t* handler,
                  void* cookie) {
    auto* c = static_cast<Counters*>(cookie);
    ++c->asked;
    if (c->refuse) return -1;
    if (kind == VM_SNAPSHOT_DOORBELL) {
        EXPECT_EQ(addr, kBellAddr);
        EXPECT_EQ(size, 4u);
        handler->doorbell_callback = count_ring;
        handler->cookie = &c->rings;
    } else {
        EXPECT_EQ(kind, VM_SNAPSHOT_DEVICE);
        handler->fault_callback = count_fault;
        handler->cookie = &c->faults;
    }
    return 0;
}

TEST(SnapshotCApi, DirtyTrackingSaveDiffAndRestore) {
    ScratchDir dir;
    CVm source;
    int unused = 0;
    ASSERT_EQ(vm_ram_register_at(source.vm, kRamBase, 0x10000, false), 0);
    ASSERT_NE(vm_reserve_memory_at(source.vm, kDev, 0x1000, count_fault, &unused), nullptr);
    ASSERT_NE(vm_reserve_doorbell_memory(source.vm, kBellAddr, 4, false, 0, count_ring, &unused), nullptr);
    access(source.vcpu, kRamBase + 0x2000, true, 0x11);
    ASSERT_EQ(vm_dirty_tracking_start(source.vm), 0);
    const std::string full = (dir / "full").string();
    const std::string diff = (dir / "diff").string();
    ASSERT_EQ(vm_snapshot_save(source.vm, full.c_str(), nullptr), 0);

    access(source.vcpu, kRamBase + 0x5000, true, 0x22);
    std::uint64_t bitmap[1] = {};
    ASSERT_EQ(vm_dirty_pages(source.vm, kRamBase, 0x10000, bitmap, 1), 0);
    EXPECT_EQ(bitmap[0], std::uint64_t{1} << 5);
    access(source.vcpu, kRamBase + 0x5000, true, 0x33);  // dirty again for the diff
    ASSERT_EQ(vm_snapshot_save(source.vm, diff.c_str(), full.c_str()), 0);
    ASSERT_EQ(vm_dirty_tracking_stop(source.vm), 0);

    CVm target;
    Counters counters;
    ASSERT_EQ(vm_snapshot_restore(target.vm, diff.c_str(), false, give_handlers, &counters), 0);
    EXPECT_EQ(counters.asked, 2);
    EXPECT_EQ(access(target.vcpu, kRamBase + 0x2000, false), 0x11u);
    EXPECT_EQ(access(target.vcpu, kRamBase + 0x5000, false), 0x33u);
    access(target.vcpu, kDev, false);
    EXPECT_EQ(counters.faults, 1);
    std::uint64_t ring = 1;
    EXPECT_EQ(vm_sim_access(target.vcpu, kBellAddr, 4, true, &ring), 0);
    EXPECT_EQ(counters.rings, 1);

    // The chain as one file restores the same.
    const std::string merged = (dir / "merged").string();
    ASSERT_EQ(vm_snapshot_merge(diff.c_str(), merged.c_str()), 0);
    CVm from_merged;
    Counters more;
    ASSERT_EQ(vm_snapshot_restore(from_merged.vm, merged.c_str(), true, give_handlers, &more), 0);
    EXPECT_EQ(access(from_merged.vcpu, kRamBase + 0x2000, false), 0x11u);
    EXPECT_EQ(access(from_merged.vcpu, kRamBase + 0x5000, false), 0x33u);
    EXPECT_EQ(vm_snapshot_merge(nullptr, merged.c_str()), -1);
    EXPECT_EQ(vm_snapshot_merge(full.c_str(), nullptr), -1);
    EXPECT_EQ(vm_snapshot_merge((dir / "absent").string().c_str(), merged.c_str()), -1);
}

TEST(SnapshotCApi, ErrorsAreMinusOneAndLogged) {
    ScratchDir dir;
    CVm source;
    CLogCapture log;
    std::uint64_t bitmap[1] = {};
    EXPECT_EQ(vm_dirty_pages(source.vm, 0, 0x1000, bitmap, 1), -1) << "not tracking";
    EXPECT_EQ(vm_dirty_tracking_stop(source.vm), -1);
    ASSERT_EQ(vm_dirty_tracking_start(source.vm), 0);
    EXPECT_EQ(vm_dirty_tracking_start(source.vm), -1);
    EXPECT_EQ(vm_dirty_pages(source.vm, 0, 0x41000, bitmap, 1), -1);
    EXPECT_TRUE(log.has_error("vm_dirty_pages", "bitmap words")) << log.dump();
    EXPECT_EQ(vm_dirty_pages(source.vm, 0, 0x1000, nullptr, 1), -1);
    EXPECT_EQ(vm_snapshot_save(source.vm, nullptr, nullptr), -1);
    EXPECT_EQ(vm_snapshot_save(source.vm, "/nonexistent-dir/x", nullptr), -1);
    EXPECT_TRUE(log.has_error("vm_snapshot_save", "/nonexistent-dir/x")) << log.dump();

    int unused = 0;
    ASSERT_NE(vm_reserve_memory_at(source.vm, kDev, 0x1000, count_fault, &unused), nullptr);
    const std::string path = (dir / "s").string();
    ASSERT_EQ(vm_snapshot_save(source.vm, path.c_str(), nullptr), 0);
    CVm target;
    Counters refusing;
    refusing.refuse = true;
    EXPECT_EQ(vm_snapshot_restore(target.vm, path.c_str(), true, give_handlers, &refusing), -1);
    EXPECT_TRUE(guestmem::capi::live_vm(target.vm)->reservations().empty());
    EXPECT_EQ(vm_snapshot_restore(target.vm, path.c_str(), true, nullptr, nullptr), -1);
    EXPECT_EQ(vm_snapshot_restore(target.vm, (dir / "absent").c_str(), true, give_handlers, &refusing), -1);
    EXPECT_TRUE(log.has_error("vm_snapshot_restore", "absent")) << log.dump();
}

}  // namespace
}  // namespace guestmem
