// SPDX-License-Identifier: BSD-2-Clause
// One frame mapped into two VMs: shared memory between guests.
#include <gtest/gtest.h>

#include "capi_support.hpp"
#include "test_support.hpp"

namespace guestmem {
namespace {

using test::CountingHandler;
using test::LogCapture;
using test::peek;
using test::SimVm;

TEST(SharedFrames, AWriteThroughOneVmIsSeenThroughTheOther) {
    auto caps = std::make_shared<CapabilitySpace>();
    SimVm a(caps), b(caps);
    // Different guest addresses in each VM, one 2 MiB frame.
    auto in_a = a.vm->reserve_at(0x400000, 0x200000, CountingHandler{}.handler());
    auto in_b = b.vm->reserve_at(0x800000, 0x200000, CountingHandler{}.handler());
    ASSERT_TRUE(in_a && in_b);
    const Cap frame = a.frame(FrameSize::k2MiB);
    const Cap frames[] = {frame};
    ASSERT_TRUE(a.vm->map_frames(*in_a, frames, 21));
    ASSERT_TRUE(b.vm->map_frames(*in_b, frames, 21));

    ASSERT_TRUE(sim::write(*a.vcpu, 0x400000 + 0x1234, 8, 0x5eed'5eed'5eed'5eedull));
    EXPECT_EQ(sim::read(*b.vcpu, 0x800000 + 0x1234, 8).value(), 0x5eed'5eed'5eed'5eedull);
    ASSERT_TRUE(sim::write(*b.vcpu, 0x800000 + 0x1fffff, 1, 0x42));
    EXPECT_EQ(sim::read(*a.vcpu, 0x400000 + 0x1fffff, 1).value(), 0x42u);
    EXPECT_EQ(peek(a.memory(frame).data() + 0x1234, 8), 0x5eed'5eed'5eed'5eedull) << "and through the VMM's view";
}

TEST(SharedFrames, ReadOnlyInOneVmReadWriteInTheOther) {
    auto caps = std::make_shared<CapabilitySpace>();
    SimVm producer(caps), consumer(caps);
    CountingHandler consumer_faults;
    auto p = producer.vm->reserve_at(0x10000, 0x1000, CountingHandler{}.handler());
    auto c = consumer.vm->reserve_at(0x10000, 0x1000, consumer_faults.handler());
    const Cap frame = producer.frame();
    const Cap rw[] = {frame};
    const Cap ro[] = {*caps->copy(frame, Rights::read)};
    ASSERT_TRUE(producer.vm->map_frames(*p, rw, 12));
    ASSERT_TRUE(consumer.vm->map_frames(*c, ro, 12));
    ASSERT_TRUE(sim::write(*producer.vcpu, 0x10100, 4, 0xabcd'ef01));
    EXPECT_EQ(sim::read(*consumer.vcpu, 0x10100, 4).value(), 0xabcd'ef01u);
    ASSERT_TRUE(sim::write(*consumer.vcpu, 0x10100, 4, 0));
    EXPECT_EQ(*consumer_faults.calls, 1) << "the consumer's mapping is read-only";
    EXPECT_EQ(sim::read(*producer.vcpu, 0x10100, 4).value(), 0xabcd'ef01u);
}

TEST(SharedFrames, TheFrameOutlivesOneVmsMappingAndItsCapability) {
    auto caps = std::make_shared<CapabilitySpace>();
    const std::uint64_t baseline = caps->frame_bytes_in_use();
    auto b = std::make_unique<SimVm>(caps);
    SimVm a(caps);
    auto in_a = a.vm->reserve_at(0x10000, 0x1000, CountingHandler{}.handler());
    auto in_b = b->vm->reserve_at(0x20000, 0x1000, CountingHandler{}.handler());
    const Cap frame = a.frame();
    const Cap frames[] = {frame};
    ASSERT_TRUE(a.vm->map_frames(*in_a, frames, 12));
    ASSERT_TRUE(b->vm->map_frames(*in_b, frames, 12));
    ASSERT_TRUE(caps->remove(frame));
    ASSERT_TRUE(a.vm->free(*in_a));
    ASSERT_TRUE(sim::write(*b->vcpu, 0x20000, 4, 0x99));
    EXPECT_EQ(sim::read(*b->vcpu, 0x20000, 4).value(), 0x99u);
    EXPECT_EQ(caps->frame_bytes_in_use(), baseline + kPageSize);
    b.reset();  // destroying the VM unmaps its last mapping
    EXPECT_EQ(caps->frame_bytes_in_use(), baseline);
}

TEST(SharedFrames, VmsOnDifferentCapabilitySpacesCannotShare) {
    LogCapture log;
    SimVm a, b;  // each on its own space
    const Cap frame = a.frame();
    auto in_b = b.vm->reserve_at(0x10000, 0x1000, CountingHandler{}.handler());
    const Cap frames[] = {frame};
    auto mapped = b.vm->map_frames(*in_b, frames, 12);
    // b's space has issued nothing, so a's capability value names nothing there.
    ASSERT_FALSE(mapped);
    EXPECT_EQ(mapped.code(), Errc::bad_capability);
    EXPECT_TRUE(log.has_error("Vm::map_frames", {"is not live"})) << log.dump();
}

// ---------------------------------------------------------------------------
// Through the C interface: every VM of the process shares one capability space.

memory_fault_result_t never(vm_t*, vm_vcpu_t*, uintptr_t, size_t, void*) { return FAULT_ERROR; }

TEST(SharedFramesC, TwoVmsShareAFrameAndTheVmmSeesIt) {
    test::CVm a, b;
    test::CFrames frames;
    const seL4_CPtr frame = frames.alloc();
    vm_memory_reservation_t* ra = vm_reserve_memory_at(a.vm, 0x100000, 0x1000, never, nullptr);
    vm_memory_reservation_t* rb = vm_reserve_memory_at(b.vm, 0x200000, 0x1000, never, nullptr);
    ASSERT_NE(ra, nullptr);
    ASSERT_NE(rb, nullptr);
    seL4_CPtr array[] = {frame};
    ASSERT_EQ(vm_map_reservation_frames(a.vm, ra, array, 1, seL4_PageBits), 0);
    ASSERT_EQ(vm_map_reservation_frames(b.vm, rb, array, 1, seL4_PageBits), 0);

    ASSERT_EQ(a.write(0x100040, 4, 0x11223344), 0);
    EXPECT_EQ(b.read_value(0x200040, 4), 0x11223344u);
    auto* vmm = test::frame_bytes(frame);
    ASSERT_NE(vmm, nullptr);
    EXPECT_EQ(test::load(vmm + 0x40, 4), 0x11223344u);
    test::store(vmm + 0x80, 8, 0xcafe'f00d'dead'beefull);  // the VMM writes; both guests see it
    EXPECT_EQ(a.read_value(0x100080, 8), 0xcafe'f00d'dead'beefull);
    EXPECT_EQ(b.read_value(0x200080, 8), 0xcafe'f00d'dead'beefull);
}

TEST(SharedFramesC, AReadOnlyCopyInTheSecondVm) {
    test::CVm a, b;
    test::CFrames frames;
    const seL4_CPtr frame = frames.alloc();
    const seL4_CPtr ro = frames.copy(frame, seL4_CanRead);
    int b_faults = 0;
    auto counting = [](vm_t*, vm_vcpu_t*, uintptr_t, size_t, void* cookie) {
        ++*static_cast<int*>(cookie);
        return FAULT_IGNORE;
    };
    vm_memory_reservation_t* ra = vm_reserve_memory_at(a.vm, 0x100000, 0x1000, never, nullptr);
    vm_memory_reservation_t* rb = vm_reserve_memory_at(b.vm, 0x100000, 0x1000, counting, &b_faults);
    seL4_CPtr rw_array[] = {frame};
    seL4_CPtr ro_array[] = {ro};
    ASSERT_EQ(vm_map_reservation_frames(a.vm, ra, rw_array, 1, seL4_PageBits), 0);
    ASSERT_EQ(vm_map_reservation_frames(b.vm, rb, ro_array, 1, seL4_PageBits), 0);
    ASSERT_EQ(b.write(0x100000, 4, 0x5555), 0);
    EXPECT_EQ(b_faults, 1);
    EXPECT_EQ(a.read_value(0x100000, 4), 0u);
    ASSERT_EQ(a.write(0x100000, 4, 0x6666), 0);
    EXPECT_EQ(b.read_value(0x100000, 4), 0x6666u);
}

}  // namespace
}  // namespace guestmem
