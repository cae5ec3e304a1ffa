// SPDX-License-Identifier: BSD-2-Clause
// Every path that runs user code while the library holds something: what a
// re-entry into the library from there does. None may hang or overflow.
#include <gtest/gtest.h>

#include <atomic>
#include <thread>
#include <vector>

#include "fault_dispatcher.hpp"
#include "test_support.hpp"

#include <sel4vm/guest_memory.h>
#include <sel4vm/guest_ram.h>
#include <sel4vm/guestmem.h>

namespace guestmem {
namespace {

using test::LogCapture;
using test::SimVm;

// Doorbells: calls for one doorbell never overlap (a lock), so a handler that
// rings its own doorbell from its own thread would wait for itself.

struct BellState {
    vm_vcpu_t* vcpu = nullptr;
    int calls = 0;
    int nested_rc = 1;
};

TEST(Reentry, ADoorbellHandlerWritingItsOwnDoorbellGetsAnErrorNotAHang) {
    // The input, through the C interface: a doorbell at 0x9000 whose
    // callback performs vm_sim_access(vcpu, 0x9000, 4, true, &v) on its first call.
    LogCapture log;
    SimVm s;
    static BellState state;
    state = BellState{};
    auto bell = s.vm->reserve_doorbell(0x9000, 4, [&](std::uint64_t) {
        if (state.calls++ == 0) {
            auto nested = sim::write(*s.vcpu, 0x9000, 4, 1);
            state.nested_rc = nested ? 0 : -1;
        }
    });
    ASSERT_TRUE(bell);
    ASSERT_TRUE(sim::write(*s.vcpu, 0x9000, 4, 1)) << "the outer ring completes";
    EXPECT_EQ(state.calls, 1) << "the nested ring was refused, not delivered";
    EXPECT_EQ(state.nested_rc, -1);
    EXPECT_TRUE(log.has_error_with({"rang its own doorbell"})) << log.dump();
    ASSERT_TRUE(sim::write(*s.vcpu, 0x9000, 4, 1)) << "the doorbell still works afterwards";
    EXPECT_EQ(state.calls, 2);
}

TEST(Reentry, RingsFromAnotherThreadWaitForTheRunningCallInsteadOfFailing) {
    SimVm s;
    auto second = s.vm->create_vcpu();
    ASSERT_TRUE(second);
    std::atomic<int> inside{0}, overlaps{0}, calls{0};
    std::atomic<bool> entered{false};
    ASSERT_TRUE(s.vm->reserve_doorbell(0x9000, 4, [&](std::uint64_t) {
        if (inside.fetch_add(1) != 0) ++overlaps;
        entered = true;
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
        ++calls;
        --inside;
    }));
    std::thread other([&] {
        while (!entered) std::this_thread::yield();
        EXPECT_TRUE(sim::write(**second, 0x9000, 4, 1));
    });
    EXPECT_TRUE(sim::write(*s.vcpu, 0x9000, 4, 1));
    other.join();
    EXPECT_EQ(calls.load(), 2);
    EXPECT_EQ(overlaps.load(), 0);
}

// Fault handlers and the unhandled-fault callback hold no lock: a nested
// access is an ordinary access, bounded in depth.

TEST(Reentry, AHandlerMayAccessItsOwnDeviceAgain) {
    SimVm s;
    int depth = 0;
    ASSERT_TRUE(s.vm->reserve_at(0x1000, 8, [&](Fault& f) {
        if (depth++ == 0) {
            auto inner = sim::read(*s.vcpu, 0x1004, 4);
            f.set_data(inner ? *inner + 1 : 0);
        } else {
            f.set_data(41);
        }
        return FaultResult::handled;
    }));
    EXPECT_EQ(sim::read(*s.vcpu, 0x1000, 4).value(), 42u);
}

TEST(Reentry, EndlessReentryOfTheUnhandledCallbackEndsInAnErrorAtTheNestingBound) {
    LogCapture log;
    SimVm s;
    int calls = 0;
    s.vm->set_unhandled_fault_handler([&](Fault& f) {
        ++calls;
        // A buggy device model: forwards every access to where it came from.
        return sim::read(*s.vcpu, f.address(), f.size()) ? FaultResult::handled : FaultResult::error;
    });
    EXPECT_EQ(sim::read(*s.vcpu, 0x5000, 4).code(), Errc::fault_error);
    EXPECT_EQ(calls, static_cast<int>(FaultDispatcher::kMaxNesting));
    EXPECT_TRUE(log.has_error_with({"nest too deeply"})) << log.dump();
    // The vCPU is usable again afterwards.
    s.vm->set_unhandled_fault_handler(test::returns(FaultResult::ignore));
    EXPECT_EQ(sim::read(*s.vcpu, 0x5000, 4).value(), 0u);
}

// Each nested access repeats the one before it: every one of them takes the
// repeat fast path (the reservation the vCPU found last), which must count
// the nesting as the general path does.
TEST(Reentry, EndlessReentryOfAReservationsOwnHandlerEndsInAnErrorAtTheNestingBound) {
    LogCapture log;
    SimVm s;
    int calls = 0;
    ASSERT_TRUE(s.vm->reserve_at(0x6000, 0x1000, [&](Fault& f) {
        ++calls;
        return sim::read(*s.vcpu, f.address(), f.size()) ? FaultResult::handled : FaultResult::error;
    }));
    EXPECT_EQ(sim::read(*s.vcpu, 0x6000, 4).code(), Errc::fault_error);
    EXPECT_EQ(calls, static_cast<int>(FaultDispatcher::kMaxNesting));
    EXPECT_TRUE(log.has_error_with({"nest too deeply"})) << log.dump();
}

// The repeat fast path trusts the reservation a vCPU found last without
// looking at the index: a freed one must never be reached through it, and a
// new one in its place must.
TEST(Reentry, ARepeatAfterAFreeReachesWhateverHoldsTheAddressNow) {
    LogCapture log;
    SimVm s;
    auto first = s.vm->reserve_at(0x7000, 0x1000, [](Fault& f) {
        f.set_data(1);
        return FaultResult::handled;
    });
    ASSERT_TRUE(first);
    EXPECT_EQ(sim::read(*s.vcpu, 0x7000, 4).value(), 1u);
    EXPECT_EQ(sim::read(*s.vcpu, 0x7000, 4).value(), 1u) << "the repeat";
    ASSERT_TRUE(s.vm->free(*first));
    EXPECT_EQ(sim::read(*s.vcpu, 0x7000, 4).code(), Errc::fault_error) << "nothing holds it";
    ASSERT_TRUE(s.vm->reserve_at(0x7000, 0x1000, [](Fault& f) {
        f.set_data(2);
        return FaultResult::handled;
    }));
    EXPECT_EQ(sim::read(*s.vcpu, 0x7000, 4).value(), 2u);
    EXPECT_EQ(sim::read(*s.vcpu, 0x7000, 4).value(), 2u) << "the repeat";
}

// Map iterators run under the address space's change lock.

TEST(Reentry, AMapIteratorCallingBackIntoTheVmGetsReentrantCall) {
    SimVm s;
    auto id = s.vm->reserve_at(0x10000, 0x1000, test::returns(FaultResult::error));
    const Cap frame = s.frame();
    std::optional<Errc> nested;
    ASSERT_TRUE(s.vm->map(*id, [&](GuestAddr addr) {
        nested = s.vm->reserve_at(0x20000, 0x1000, test::returns(FaultResult::error)).code();
        return FrameRequest{frame, Rights::all, addr, 12};
    }));
    EXPECT_EQ(nested, std::optional<Errc>(Errc::reentrant_call));
    EXPECT_EQ(s.vm->reservations().size(), 1u);
}

TEST(Reentry, ADeferredIteratorTouchingItsOwnReservationFailsThatAccessNotTheProcess) {
    LogCapture log;
    SimVm s;
    s.vm->set_deferred_mapping(true);
    auto id = s.vm->reserve_at(0x10000, 0x1000, test::returns(FaultResult::error));
    const Cap frame = s.frame();
    bool nested_ok = true;
    ASSERT_TRUE(s.vm->map(*id, [&](GuestAddr addr) {
        nested_ok = sim::read(*s.vcpu, 0x10000, 4).ok();  // a guest access inside the mapping being made
        return FrameRequest{frame, Rights::all, addr, 12};
    }));
    EXPECT_TRUE(sim::write(*s.vcpu, 0x10000, 4, 7)) << "the outer access maps and completes";
    EXPECT_FALSE(nested_ok);
    EXPECT_TRUE(log.has_error_with({"deferred mapping"})) << log.dump();
    EXPECT_EQ(sim::read(*s.vcpu, 0x10000, 4).value(), 7u);
}

// RAM touch callbacks hold the touched reservations (a free waits for them),
// no lock: they may touch again, and read and write through the C callbacks.

TEST(Reentry, ATouchCallbackMayTouchAgain) {
    vm_t* vm = vm_create(VM_BACKEND_SIM);
    ASSERT_NE(vm, nullptr);
    ASSERT_EQ(vm_memory_init(vm), 0);
    ASSERT_EQ(vm_ram_register_at(vm, 0x100000, 0x2000, false), 0);
    struct Cookie {
        vm_t* vm;
        int depth = 0;
        int inner_rc = 1;
    } cookie{vm};
    const int rc = vm_ram_touch(
        vm, 0x100000, 16,
        [](vm_t* v, uintptr_t, void*, size_t, size_t, void* c) {
            auto* self = static_cast<Cookie*>(c);
            if (self->depth++ == 0) {
                std::uint32_t value = 0x5a5a5a5a;
                self->inner_rc = vm_ram_touch(v, 0x101000, 4, vm_guest_ram_write_callback, &value);
            }
            return 0;
        },
        &cookie);
    EXPECT_EQ(rc, 0);
    EXPECT_EQ(cookie.inner_rc, 0);
    std::uint32_t back = 0;
    ASSERT_EQ(vm_ram_touch(vm, 0x101000, 4, vm_guest_ram_read_callback, &back), 0);
    EXPECT_EQ(back, 0x5a5a5a5au);
    vm_destroy(vm);
}

}  // namespace
}  // namespace guestmem
