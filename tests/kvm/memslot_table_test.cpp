// SPDX-License-Identifier: BSD-2-Clause
// MemslotTable against a fake KVM: slot ids, read-only flags, all-or-nothing
// install, exact uninstall, exhaustion. Needs no /dev/kvm.
#include <gtest/gtest.h>

#include <map>

#include "memslot_table.hpp"

namespace guestmem::kvm {
namespace {

// Plays KVM's part: keeps the slots it was told about and can refuse a call.
struct FakeKvm {
    std::map<std::uint32_t, kvm_userspace_memory_region> slots;
    int calls = 0;
    int fail_on_call = -1;  // 0-based index of the call to refuse

    MemslotTable::Writer writer() {
        return [this](const kvm_userspace_memory_region& r) -> Result<void> {
            if (calls++ == fail_on_call) return fail(Errc::backend_error, "fake KVM refuses");
            if (r.memory_size == 0) {
                slots.erase(r.slot);
            } else {
                slots[r.slot] = r;
            }
            return {};
        };
    }
};

alignas(4096) std::byte g_host[64 * 4096];

MappedRun run(GuestAddr gpa, std::uint64_t pages, std::size_t host_page, Rights rights = Rights::read_write) {
    return MappedRun{gpa, pages * kPageSize, g_host + host_page * kPageSize, rights};
}

TEST(MemslotTable, OneSlotPerRunWithReadOnlyFlag) {
    FakeKvm kvm;
    MemslotTable table(8, kvm.writer());
    const MappedRun runs[] = {run(0x10000, 4, 0), run(0x20000, 1, 4, Rights::read)};
    ASSERT_TRUE(table.install(runs));
    EXPECT_EQ(table.usage().in_use, 2u);
    EXPECT_EQ(table.usage().limit, 8u);
    ASSERT_EQ(kvm.slots.size(), 2u);
    EXPECT_EQ(kvm.slots[0].guest_phys_addr, 0x10000u);
    EXPECT_EQ(kvm.slots[0].memory_size, 4 * kPageSize);
    EXPECT_EQ(kvm.slots[0].userspace_addr, reinterpret_cast<std::uint64_t>(g_host));
    EXPECT_EQ(kvm.slots[0].flags, 0u);
    EXPECT_EQ(kvm.slots[1].flags, static_cast<std::uint32_t>(KVM_MEM_READONLY));
}

TEST(MemslotTable, UninstallRemovesExactlyThoseSlotsAndIdsAreReused) {
    FakeKvm kvm;
    MemslotTable table(8, kvm.writer());
    const MappedRun a[] = {run(0x10000, 1, 0), run(0x30000, 1, 2)};
    const MappedRun b[] = {run(0x20000, 1, 1)};
    ASSERT_TRUE(table.install(a));
    ASSERT_TRUE(table.install(b));
    ASSERT_EQ(kvm.slots.size(), 3u);
    table.uninstall(a);
    ASSERT_EQ(kvm.slots.size(), 1u);
    EXPECT_EQ(kvm.slots.begin()->first, 2u);
    EXPECT_EQ(kvm.slots.begin()->second.guest_phys_addr, 0x20000u);
    // The lowest free ids come back first.
    const MappedRun c[] = {run(0x40000, 1, 3)};
    ASSERT_TRUE(table.install(c));
    EXPECT_EQ(kvm.slots.count(0), 1u);
    EXPECT_EQ(kvm.slots[0].guest_phys_addr, 0x40000u);
    // Runs that are not installed (or differ from what was) are left alone.
    const MappedRun stranger[] = {run(0x20000, 2, 1), run(0x90000, 1, 9)};
    table.uninstall(stranger);
    EXPECT_EQ(table.usage().in_use, 2u);
}

TEST(MemslotTable, ExhaustionIsOutOfMemoryAndChangesNothing) {
    FakeKvm kvm;
    MemslotTable table(2, kvm.writer());
    const MappedRun first[] = {run(0x10000, 1, 0)};
    ASSERT_TRUE(table.install(first));
    const MappedRun two[] = {run(0x20000, 1, 1), run(0x30000, 1, 2)};
    auto r = table.install(two);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.code(), Errc::out_of_memory);
    EXPECT_NE(r.error().message.find("slots exhausted"), std::string::npos) << r.error().message;
    EXPECT_EQ(kvm.calls, 1);
    EXPECT_EQ(table.usage().in_use, 1u);
    const MappedRun one[] = {run(0x20000, 1, 1)};
    EXPECT_TRUE(table.install(one));
}

TEST(MemslotTable, FailureRollsBackEverySlotOfTheCall) {
    FakeKvm kvm;
    MemslotTable table(8, kvm.writer());
    const MappedRun kept[] = {run(0x100000, 1, 10)};
    ASSERT_TRUE(table.install(kept));
    kvm.fail_on_call = 3;  // the third run of the next call
    const MappedRun runs[] = {run(0x10000, 1, 0), run(0x20000, 1, 1), run(0x30000, 1, 2)};
    auto r = table.install(runs);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.code(), Errc::backend_error);
    EXPECT_EQ(table.usage().in_use, 1u);
    ASSERT_EQ(kvm.slots.size(), 1u);
    EXPECT_EQ(kvm.slots.begin()->second.guest_phys_addr, 0x100000u);
    // Every id came back: the same call now succeeds with slots 1..3.
    ASSERT_TRUE(table.install(runs));
    EXPECT_EQ(kvm.slots.size(), 4u);
    EXPECT_EQ(kvm.slots.rbegin()->first, 3u);
}

TEST(MemslotTable, RejectsRunsKvmCannotTake) {
    FakeKvm kvm;
    MemslotTable table(8, kvm.writer());
    const MappedRun installed[] = {run(0x10000, 2, 0)};
    ASSERT_TRUE(table.install(installed));
    const MappedRun bad[][1] = {
        {MappedRun{0x20000, 0, g_host, Rights::read_write}},                              // empty
        {MappedRun{0x20800, kPageSize, g_host, Rights::read_write}},                      // unaligned guest address
        {MappedRun{0x20000, kPageSize, g_host + 16, Rights::read_write}},                 // unaligned host address
        {MappedRun{0x20000, kPageSize, g_host, Rights::write}},                           // no read right
        {run(0x11000, 2, 4)},                                                             // overlaps the installed run
        {MappedRun{~std::uint64_t{0} & ~0xfffull, 2 * kPageSize, g_host, Rights::read}},  // wraps
    };
    for (const auto& runs : bad) {
        auto r = table.install(runs);
        ASSERT_FALSE(r);
        EXPECT_EQ(r.code(), Errc::invalid_argument) << r.error().message;
    }
    const MappedRun overlapping_each_other[] = {run(0x40000, 2, 5), run(0x41000, 1, 8)};
    EXPECT_EQ(table.install(overlapping_each_other).code(), Errc::invalid_argument);
    EXPECT_EQ(kvm.calls, 1);
    EXPECT_EQ(table.usage().in_use, 1u);
}

}  // namespace
}  // namespace guestmem::kvm
