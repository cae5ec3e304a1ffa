// SPDX-License-Identifier: BSD-2-Clause
// Doorbell and write-posting reservations on the sim backend: delivered
// synchronously through fault dispatch, with the same meaning as on KVM; the
// C extension functions; every invalid input rejected with state unchanged.
#include <gtest/gtest.h>

#include <vector>

#include "guestmem/sim.hpp"
#include "guestmem/vm.hpp"
#include "sel4vm/guest_vcpu_fault.h"
#include "sel4vm/guestmem.h"

namespace guestmem {
namespace {

constexpr GuestAddr kDev = 0x10000;

struct SimVm {
    Vm vm{sim::create_backend(), std::make_shared<CapabilitySpace>()};
    Vcpu* vcpu = nullptr;
    SimVm() {
        EXPECT_TRUE(vm.init_memory());
        vcpu = *vm.create_vcpu();
    }
};

TEST(SimDoorbell, RingsSynchronouslyForMatchingWritesOnly) {
    SimVm s;
    std::vector<std::uint64_t> rings;
    auto id = s.vm.reserve_doorbell(
        kDev, 4, [&](std::uint64_t n) { rings.push_back(n); }, 7);
    ASSERT_TRUE(id);
    ASSERT_TRUE(sim::write(*s.vcpu, kDev, 4, 7));
    EXPECT_EQ(rings, std::vector<std::uint64_t>{1});  // synchronous
    ASSERT_TRUE(sim::write(*s.vcpu, kDev, 4, 8));     // other value: dropped
    ASSERT_TRUE(sim::write(*s.vcpu, kDev, 2, 7));     // other size: dropped
    EXPECT_EQ(*sim::read(*s.vcpu, kDev, 4), 0u);      // reads yield 0
    ASSERT_TRUE(sim::write(*s.vcpu, kDev, 4, 7));
    EXPECT_EQ(rings, (std::vector<std::uint64_t>{1, 1}));
    ASSERT_TRUE(s.vm.free(*id));
    // Freed: the address is unreserved again.
    EXPECT_FALSE(sim::write(*s.vcpu, kDev, 4, 7));
    EXPECT_EQ(rings.size(), 2u);
}

TEST(SimDoorbell, WithoutMatchAnyValueRings) {
    SimVm s;
    std::uint64_t total = 0;
    ASSERT_TRUE(s.vm.reserve_doorbell(kDev, 8, [&](std::uint64_t n) { total += n; }));
    for (std::uint64_t v : {0ull, 1ull, ~0ull}) ASSERT_TRUE(sim::write(*s.vcpu, kDev, 8, v));
    EXPECT_EQ(total, 3u);
}

TEST(SimDoorbell, RejectsBadArgumentsAndLeavesStateUnchanged) {
    SimVm s;
    auto noop = [](std::uint64_t) {};
    for (std::uint64_t size : {0u, 3u, 16u}) {
        auto r = s.vm.reserve_doorbell(kDev, size, noop);
        ASSERT_FALSE(r);
        EXPECT_EQ(r.error().code, Errc::invalid_argument);
        EXPECT_NE(r.error().message.find("Vm::reserve_doorbell"), std::string::npos);
    }
    auto wide = s.vm.reserve_doorbell(kDev, 2, noop, 0x10000);
    ASSERT_FALSE(wide);
    EXPECT_EQ(wide.error().code, Errc::invalid_argument);
    auto empty = s.vm.reserve_doorbell(kDev, 4, DoorbellHandler{});
    ASSERT_FALSE(empty);
    EXPECT_EQ(empty.error().code, Errc::invalid_argument);
    EXPECT_TRUE(s.vm.reservations().empty());
    ASSERT_TRUE(s.vm.reserve_at(kDev, 0x1000, [](Fault&) { return FaultResult::handled; }));
    auto overlap = s.vm.reserve_doorbell(kDev + 8, 4, noop);
    ASSERT_FALSE(overlap);
    EXPECT_EQ(overlap.error().code, Errc::overlap);
    EXPECT_EQ(s.vm.reservations().size(), 1u);
}

TEST(SimDoorbell, NotInitialisedFails) {
    Vm vm(sim::create_backend(), std::make_shared<CapabilitySpace>());
    auto r = vm.reserve_doorbell(kDev, 4, [](std::uint64_t) {});
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code, Errc::not_initialized);
}

TEST(SimDoorbell, HandlerCannotFreeItsOwnReservation) {
    SimVm s;
    ReservationId self{};
    Errc code = Errc::invalid_argument;
    bool freed = true;
    auto id = s.vm.reserve_doorbell(kDev, 4, [&](std::uint64_t) {
        auto r = s.vm.free(self);
        freed = r.ok();
        if (!r) code = r.error().code;
    });
    ASSERT_TRUE(id);
    self = *id;
    ASSERT_TRUE(sim::write(*s.vcpu, kDev, 4, 1));
    EXPECT_FALSE(freed);
    EXPECT_EQ(code, Errc::reentrant_call);
    EXPECT_TRUE(s.vm.free(*id));
}

TEST(SimWritePosting, WritesAndReadsReachTheHandlerInOrder) {
    SimVm s;
    std::vector<std::pair<bool, std::uint64_t>> seen;
    std::uint64_t reg = 0;
    auto id = s.vm.reserve_write_posting(kDev, 0x100, [&](Fault& f) {
        seen.emplace_back(f.is_write(), f.is_write() ? f.data() : 0);
        if (f.is_write()) reg = f.data();
        else f.set_data(reg);
        return FaultResult::handled;
    });
    ASSERT_TRUE(id);
    ASSERT_TRUE(sim::write(*s.vcpu, kDev, 4, 1));
    ASSERT_TRUE(sim::write(*s.vcpu, kDev, 4, 2));
    EXPECT_EQ(*sim::read(*s.vcpu, kDev, 4), 2u);
    const std::vector<std::pair<bool, std::uint64_t>> expected = {{true, 1}, {true, 2}, {false, 0}};
    EXPECT_EQ(seen, expected);
}

TEST(SimWritePosting, RejectsLikeReserveAtAndCannotBeMapped) {
    SimVm s;
    auto empty = s.vm.reserve_write_posting(kDev, 0x100, FaultHandler{});
    ASSERT_FALSE(empty);
    EXPECT_EQ(empty.error().code, Errc::invalid_argument);
    auto zero = s.vm.reserve_write_posting(kDev, 0, [](Fault&) { return FaultResult::handled; });
    ASSERT_FALSE(zero);
    EXPECT_TRUE(s.vm.reservations().empty());
    auto id = s.vm.reserve_write_posting(kDev, 0x1000, [](Fault&) { return FaultResult::handled; });
    ASSERT_TRUE(id);
    auto frame = *s.vm.capabilities().allocate_frame(FrameSize::k4KiB);
    auto mapped = s.vm.map_frames(*id, std::span<const Cap>(&frame, 1), 12);
    ASSERT_FALSE(mapped);
    EXPECT_EQ(mapped.error().code, Errc::invalid_argument);
    EXPECT_FALSE(s.vm.reservations()[0].mapped);
}

// ------------------------------------------------------------------ C API

struct CRings {
    uint64_t total = 0;
    uintptr_t addr = 0;
    vm_t* vm = nullptr;
};

void c_ring(vm_t* vm, uintptr_t addr, uint64_t count, void* cookie) {
    auto* r = static_cast<CRings*>(cookie);
    r->total += count;
    r->addr = addr;
    r->vm = vm;
}

memory_fault_result_t c_device(vm_t*, vm_vcpu_t* vcpu, uintptr_t, size_t, void* cookie) {
    auto* log = static_cast<std::vector<uint64_t>*>(cookie);
    log->push_back(is_vcpu_read_fault(vcpu) ? 0 : get_vcpu_fault_data(vcpu));
    return FAULT_HANDLED;
}

TEST(CFastPaths, DoorbellAndWritePostingThroughTheCInterface) {
    vm_t* vm = vm_create(VM_BACKEND_SIM);
    ASSERT_NE(vm, nullptr);
    CRings rings;
    // Before vm_memory_init: NULL.
    EXPECT_EQ(vm_reserve_doorbell_memory(vm, kDev, 4, true, 9, c_ring, &rings), nullptr);
    ASSERT_EQ(vm_memory_init(vm), 0);
    vm_vcpu_t* vcpu = vm_create_vcpu(vm, 0);
    EXPECT_EQ(vm_reserve_doorbell_memory(nullptr, kDev, 4, true, 9, c_ring, &rings), nullptr);
    EXPECT_EQ(vm_reserve_doorbell_memory(vm, kDev, 4, true, 9, nullptr, &rings), nullptr);
    EXPECT_EQ(vm_reserve_doorbell_memory(vm, kDev, 5, true, 9, c_ring, &rings), nullptr);
    EXPECT_EQ(vm_reserve_doorbell_memory(vm, kDev, 1, true, 0x100, c_ring, &rings), nullptr);
    vm_memory_reservation_t* bell = vm_reserve_doorbell_memory(vm, kDev, 4, true, 9, c_ring, &rings);
    ASSERT_NE(bell, nullptr);
    uint64_t data = 9;
    ASSERT_EQ(vm_sim_access(vcpu, kDev, 4, true, &data), 0);
    data = 10;
    ASSERT_EQ(vm_sim_access(vcpu, kDev, 4, true, &data), 0);
    EXPECT_EQ(rings.total, 1u);
    EXPECT_EQ(rings.addr, kDev);
    EXPECT_EQ(rings.vm, vm);

    std::vector<uint64_t> log;
    EXPECT_EQ(vm_reserve_write_posting_memory(vm, kDev + 0x1000, 0x100, nullptr, &log), nullptr);
    EXPECT_EQ(vm_reserve_write_posting_memory(vm, kDev, 0x100, c_device, &log), nullptr);  // overlaps the doorbell
    vm_memory_reservation_t* posted = vm_reserve_write_posting_memory(vm, kDev + 0x1000, 0x100, c_device, &log);
    ASSERT_NE(posted, nullptr);
    data = 5;
    ASSERT_EQ(vm_sim_access(vcpu, kDev + 0x1000, 4, true, &data), 0);
    ASSERT_EQ(vm_sim_access(vcpu, kDev + 0x1000, 4, false, &data), 0);
    EXPECT_EQ(log, (std::vector<uint64_t>{5, 0}));

    EXPECT_EQ(vm_free_reserved_memory(vm, bell), 0);
    EXPECT_EQ(vm_free_reserved_memory(vm, bell), -1);  // already freed
    EXPECT_EQ(vm_free_reserved_memory(vm, posted), 0);
    vm_destroy(vm);
}

}  // namespace
}  // namespace guestmem
