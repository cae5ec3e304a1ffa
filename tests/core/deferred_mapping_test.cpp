// SPDX-License-Identifier: BSD-2-Clause
// Deferred mapping (libsel4vm's DEFER_MEMORY_MAP, chosen at run time): the
// iterator is kept and run on the first fault in the reservation, which then
// ends in FAULT_RESTART.
#include <gtest/gtest.h>

#include <cstdlib>

#include "capi_support.hpp"
#include "test_support.hpp"

namespace guestmem {
namespace {

using test::CountingHandler;
using test::LogCapture;
using test::peek;
using test::poke;
using test::SimVm;

struct DeferredTest : ::testing::Test {
    SimVm s;
    void SetUp() override {
        s.vm->set_deferred_mapping(true);
        ASSERT_TRUE(s.vm->deferred_mapping());
    }
    /// An iterator over `frames` (4 KiB each, from `base`) that counts its calls.
    MapIterator counting(std::vector<Cap> frames, GuestAddr base, std::shared_ptr<int> calls,
                         Rights rights = Rights::all) {
        return [frames = std::move(frames), base, calls, rights](GuestAddr addr) {
            ++*calls;
            const std::size_t i = (addr - base) >> 12;
            return FrameRequest{i < frames.size() ? frames[i] : kNullCap, rights, addr, 12};
        };
    }
};

TEST_F(DeferredTest, TheIteratorRunsAtTheFirstFaultAndTheAccessCompletesFromMemory) {
    CountingHandler device;
    auto id = s.vm->reserve_at(0x10000, 0x2000, device.handler());
    const Cap f0 = s.frame(), f1 = s.frame();
    poke(s.memory(f1).data() + 0x10, 4, 0xa5a5'5a5a);
    auto calls = std::make_shared<int>(0);
    ASSERT_TRUE(s.vm->map(*id, counting({f0, f1}, 0x10000, calls)));
    EXPECT_EQ(*calls, 0) << "nothing runs before the first fault";
    auto info = s.vm->reservations().at(0);
    EXPECT_TRUE(info.deferred);
    EXPECT_FALSE(info.mapped);

    const GuestAddr ip = s.ip();
    EXPECT_EQ(sim::read(*s.vcpu, 0x11010, 4).value(), 0xa5a5'5a5au);
    EXPECT_EQ(*calls, 2) << "the whole reservation was mapped";
    EXPECT_EQ(*device.calls, 0) << "the first fault ran the mapping, not the callback";
    EXPECT_EQ(s.ip(), ip + sim::kInstructionBytes) << "the restarted access advanced once";
    info = s.vm->reservations().at(0);
    EXPECT_FALSE(info.deferred);
    EXPECT_TRUE(info.mapped);
    EXPECT_EQ(info.frames, 2u);

    ASSERT_TRUE(sim::write(*s.vcpu, 0x10000, 8, 0x1122334455667788ull));
    EXPECT_EQ(peek(s.memory(f0).data(), 8), 0x1122334455667788ull);
    EXPECT_EQ(*calls, 2) << "the iterator runs once";
}

TEST_F(DeferredTest, AfterTheMappingTheAccessIsRestartedNotCompleted) {
    // Frames without read rights map nothing: the restarted access faults again,
    // now into the callback, which shows the first fault ended in FAULT_RESTART.
    std::vector<GuestAddr> seen;
    auto id = s.vm->reserve_at(0x10000, 0x1000, [&](Fault& f) {
        seen.push_back(f.address());
        f.set_data(0x33);
        return FaultResult::handled;
    });
    auto calls = std::make_shared<int>(0);
    ASSERT_TRUE(s.vm->map(*id, counting({s.frame()}, 0x10000, calls, Rights::write)));
    EXPECT_EQ(sim::read(*s.vcpu, 0x10004, 1).value(), 0x33u);
    EXPECT_EQ(*calls, 1);
    EXPECT_EQ(seen, std::vector<GuestAddr>{0x10004});
    EXPECT_TRUE(s.vm->reservations().at(0).mapped);
}

TEST_F(DeferredTest, AWriteAsFirstFaultLandsInTheMappedFrame) {
    auto id = s.vm->reserve_at(0x10000, 0x1000, test::CountingHandler{}.handler());
    const Cap f = s.frame();
    auto calls = std::make_shared<int>(0);
    ASSERT_TRUE(s.vm->map(*id, counting({f}, 0x10000, calls)));
    ASSERT_TRUE(sim::write(*s.vcpu, 0x10ff8, 8, 0xfeedull));
    EXPECT_EQ(peek(s.memory(f).data() + 0xff8, 8), 0xfeedull);
}

TEST_F(DeferredTest, APendingMappingCountsAsMapped) {
    LogCapture log;
    auto id = s.vm->reserve_at(0x10000, 0x1000, CountingHandler{}.handler());
    const Cap f = s.frame();
    auto calls = std::make_shared<int>(0);
    ASSERT_TRUE(s.vm->map(*id, counting({f}, 0x10000, calls)));
    EXPECT_EQ(s.vm->map(*id, counting({f}, 0x10000, calls)).code(), Errc::already_mapped);
    const Cap frames[] = {f};
    EXPECT_EQ(s.vm->map_frames(*id, frames, 12).code(), Errc::already_mapped);
    EXPECT_EQ(*calls, 0);
    EXPECT_TRUE(log.has_error("Vm::map", {"already mapped"})) << log.dump();
}

TEST_F(DeferredTest, FreeDropsAPendingMappingWithoutRunningIt) {
    CountingHandler unhandled;
    s.vm->set_unhandled_fault_handler(unhandled.handler());
    auto id = s.vm->reserve_at(0x10000, 0x1000, CountingHandler{}.handler());
    const Cap f = s.frame();
    auto calls = std::make_shared<int>(0);
    ASSERT_TRUE(s.vm->map(*id, counting({f}, 0x10000, calls)));
    ASSERT_TRUE(s.vm->free(*id));
    ASSERT_TRUE(sim::write(*s.vcpu, 0x10000, 4, 1));
    EXPECT_EQ(*calls, 0);
    EXPECT_EQ(*unhandled.calls, 1);
    EXPECT_EQ(peek(s.memory(f).data(), 4), 0u);
    EXPECT_TRUE(s.caps->lookup(f));
}

TEST_F(DeferredTest, AFailingDeferredMappingFailsTheAccessAndLeavesTheReservationMappable) {
    LogCapture log;
    CountingHandler device;
    auto id = s.vm->reserve_at(0x10000, 0x2000, device.handler());
    const Cap good = s.frame();
    auto calls = std::make_shared<int>(0);
    // The second frame is missing (null capability): the mapping fails at fault time.
    ASSERT_TRUE(s.vm->map(*id, counting({good}, 0x10000, calls)));
    const GuestAddr ip = s.ip();
    auto value = sim::read(*s.vcpu, 0x10000, 4);
    ASSERT_FALSE(value);
    EXPECT_EQ(value.code(), Errc::fault_error);
    EXPECT_TRUE(log.has_error("sim::read", {"capability is null"})) << log.dump();
    EXPECT_TRUE(log.has_error("sim::read", {"deferred mapping", "0x10000"})) << log.dump();
    EXPECT_EQ(s.ip(), ip);
    auto info = s.vm->reservations().at(0);
    EXPECT_FALSE(info.mapped);
    EXPECT_FALSE(info.deferred);

    s.vm->set_deferred_mapping(false);
    const Cap second = s.frame();
    ASSERT_TRUE(s.vm->map(*id, counting({good, second}, 0x10000, calls)));
    ASSERT_TRUE(sim::write(*s.vcpu, 0x11000, 4, 0x77));
    EXPECT_EQ(peek(s.memory(second).data(), 4), 0x77u);
    EXPECT_EQ(*device.calls, 0);
}

TEST_F(DeferredTest, TheModeIsTakenAtMapTime) {
    auto a = s.vm->reserve_at(0x10000, 0x1000, CountingHandler{}.handler());
    auto b = s.vm->reserve_at(0x20000, 0x1000, CountingHandler{}.handler());
    auto calls_a = std::make_shared<int>(0), calls_b = std::make_shared<int>(0);
    ASSERT_TRUE(s.vm->map(*a, counting({s.frame()}, 0x10000, calls_a)));
    s.vm->set_deferred_mapping(false);
    EXPECT_FALSE(s.vm->deferred_mapping());
    ASSERT_TRUE(s.vm->map(*b, counting({s.frame()}, 0x20000, calls_b)));
    EXPECT_EQ(*calls_a, 0) << "still pending after the mode changed";
    EXPECT_EQ(*calls_b, 1) << "mapped at once";
    EXPECT_TRUE(s.vm->reservations().at(0).deferred);
    EXPECT_TRUE(s.vm->reservations().at(1).mapped);
}

TEST_F(DeferredTest, EnsureMappedRunsAPendingMappingForTheVmm) {
    auto id = s.vm->reserve_at(0x10000, 0x1000, CountingHandler{}.handler());
    const Cap f = s.frame();
    auto calls = std::make_shared<int>(0);
    ASSERT_TRUE(s.vm->map(*id, counting({f}, 0x10000, calls)));
    EXPECT_FALSE(s.vm->find_run(0x10000)) << "not memory yet";
    ASSERT_TRUE(s.vm->ensure_mapped(*id));
    EXPECT_EQ(*calls, 1);
    auto run = s.vm->find_run(0x10000);
    ASSERT_TRUE(run);
    EXPECT_EQ(run->host, s.memory(f).data());
    ASSERT_TRUE(s.vm->ensure_mapped(*id)) << "a no-op once mapped";
    EXPECT_EQ(*calls, 1);
}

TEST_F(DeferredTest, AnAccessCrossingTheReservationsEndMapsItsPartAndPassesOnTheRest) {
    CountingHandler unhandled;
    s.vm->set_unhandled_fault_handler(unhandled.handler());
    auto id = s.vm->reserve_at(0x10000, 0x1000, CountingHandler{}.handler());
    auto calls = std::make_shared<int>(0);
    const Cap frame = s.frame();
    ASSERT_TRUE(s.vm->map(*id, counting({frame}, 0x10000, calls)));
    ASSERT_TRUE(sim::write(*s.vcpu, 0x10ffe, 4, 0xaabbccdd));
    EXPECT_EQ(*calls, 1) << "the part inside the reservation maps it";
    EXPECT_EQ(*unhandled.calls, 1) << "the part past its end has no owner";
    EXPECT_FALSE(s.vm->reservations().at(0).deferred);
    EXPECT_EQ(peek(s.memory(frame).data() + 0xffe, 2), 0xccddu);
}

TEST_F(DeferredTest, MapFramesKeepsItsOwnCopyOfTheArray) {
    auto id = s.vm->reserve_at(0x10000, 0x3000, CountingHandler{}.handler());
    const Cap originals[3] = {s.frame(), s.frame(), s.frame()};
    auto array = std::make_unique<std::vector<Cap>>(originals, originals + 3);
    ASSERT_TRUE(s.vm->map_frames(*id, *array, 12));
    // The caller reuses and then frees its array before the first fault.
    std::fill(array->begin(), array->end(), Cap{0xdead});
    array.reset();
    ASSERT_TRUE(sim::write(*s.vcpu, 0x12000, 4, 0xc0ffee));
    EXPECT_EQ(peek(s.memory(originals[2]).data(), 4), 0xc0ffeeu);
    EXPECT_EQ(s.vm->reservations().at(0).frames, 3u);
}

// ---------------------------------------------------------------------------
// The same through the C interface.

struct CIteratorState {
    seL4_CPtr frames[2];
    uintptr_t base;
    int calls;
    void* cookie_seen;
};

vm_frame_t c_iterator(uintptr_t addr, void* cookie) {
    auto* state = static_cast<CIteratorState*>(cookie);
    state->calls++;
    state->cookie_seen = cookie;
    vm_frame_t frame{};
    frame.cptr = state->frames[(addr - state->base) >> seL4_PageBits];
    frame.rights = seL4_AllRights;
    frame.vaddr = addr;
    frame.size_bits = seL4_PageBits;
    return frame;
}

memory_fault_result_t count_callback(vm_t*, vm_vcpu_t*, uintptr_t, size_t, void* cookie) {
    ++*static_cast<int*>(cookie);
    return FAULT_HANDLED;
}

TEST(DeferredMappingC, TheIteratorAndCookieAreKeptUntilTheFirstFault) {
    test::CVm c;
    test::CFrames frames;
    vm_set_deferred_mapping(c.vm, true);
    int callback_calls = 0;
    vm_memory_reservation_t* r = vm_reserve_memory_at(c.vm, 0x80000, 0x2000, count_callback, &callback_calls);
    ASSERT_NE(r, nullptr);
    CIteratorState state{{frames.alloc(), frames.alloc()}, 0x80000, 0, nullptr};
    test::store(test::frame_bytes(state.frames[1]) + 8, 8, 0x0123456789abcdefull);
    ASSERT_EQ(vm_map_reservation(c.vm, r, c_iterator, &state), 0);
    EXPECT_EQ(state.calls, 0);
    EXPECT_EQ(c.read_value(0x81008, 8), 0x0123456789abcdefull);
    EXPECT_EQ(state.calls, 2);
    EXPECT_EQ(state.cookie_seen, &state);
    EXPECT_EQ(callback_calls, 0);
    EXPECT_EQ(vm_free_reserved_memory(c.vm, r), 0);
}

TEST(DeferredMappingC, MapReservationFramesCopiesTheArray) {
    test::CVm c;
    test::CFrames frames;
    vm_set_deferred_mapping(c.vm, true);
    int callback_calls = 0;
    vm_memory_reservation_t* r = vm_reserve_memory_at(c.vm, 0x80000, 0x3000, count_callback, &callback_calls);
    ASSERT_NE(r, nullptr);
    const seL4_CPtr originals[3] = {frames.alloc(), frames.alloc(), frames.alloc()};
    auto* array = static_cast<seL4_CPtr*>(std::malloc(sizeof originals));
    std::memcpy(array, originals, sizeof originals);
    ASSERT_EQ(vm_map_reservation_frames(c.vm, r, array, 3, seL4_PageBits), 0);
    // Overwrite with other live frames, then free: a kept pointer would map
    // the wrong frames (or read freed memory, which ASan reports).
    const seL4_CPtr decoy = frames.alloc();
    for (int i = 0; i < 3; ++i) array[i] = decoy;
    std::free(array);
    ASSERT_EQ(c.write(0x80000, 4, 0x10), 0);
    ASSERT_EQ(c.write(0x81000, 4, 0x11), 0);
    ASSERT_EQ(c.write(0x82000, 4, 0x12), 0);
    for (int i = 0; i < 3; ++i) EXPECT_EQ(test::load(test::frame_bytes(originals[i]), 4), 0x10u + i);
    EXPECT_EQ(test::load(test::frame_bytes(decoy), 4), 0u);
    EXPECT_EQ(callback_calls, 0);
}

}  // namespace
}  // namespace guestmem
