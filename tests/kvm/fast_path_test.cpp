// SPDX-License-Identifier: BSD-2-Clause
// Doorbells (KVM_IOEVENTFD) and write posting (coalesced MMIO) on real guests:
// delivery, order, match values, and that freeing deregisters. Behaviour only,
// never timing.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <thread>
#include <mutex>
#include <vector>

#include "kvm_test_support.hpp"

namespace guestmem::test {
namespace {

namespace gp = guests;

struct ScriptGuest {
    std::unique_ptr<GuestVm> g;
    Vcpu* vcpu = nullptr;

    static ScriptGuest create() {
        ScriptGuest s;
        s.g = GuestVm::create(BackendKind::kvm);
        if (!s.g) return s;
        load_program(s.g->vm(), gp::access_script::image_path);
        s.vcpu = &s.g->add_vcpu({kScripts, 1});
        return s;
    }
    RunResult run(const std::vector<ScriptOp>& ops) {
        write_script(g->vm(), kScripts, ops);
        g->reset(*vcpu, {kScripts, 1});
        return g->run(*vcpu);
    }
    std::vector<ScriptOp> results(std::size_t count) { return read_script(g->vm(), kScripts, count); }
};

TEST(KvmWritePosting, WritesArriveInOrderBeforeTheReadOfTheDevice) {
    GUESTMEM_REQUIRE_KVM();
    auto s = ScriptGuest::create();
    ASSERT_TRUE(s.g);
    std::vector<SeenAccess> seen;
    std::uint64_t last_written = 0;
    ASSERT_TRUE(s.g->vm().reserve_write_posting(kDevice, 0x1000, [&](Fault& f) {
        seen.push_back({f.address(), f.size(), f.is_write(), f.data(), 0});
        if (f.is_write()) {
            last_written = f.data();
        } else {
            f.set_data(last_written);
        }
        return FaultResult::handled;
    }));
    const RunResult r =
        s.run({ScriptOp::write(kDevice, 4, 1), ScriptOp::write(kDevice + 4, 2, 2), ScriptOp::write(kDevice, 8, 3),
               ScriptOp::read(kDevice, 8), ScriptOp::write(kDevice + 0x10, 1, 4)});
    ASSERT_EQ(r.reason, StopReason::halted) << r.message;
    const std::vector<SeenAccess> expected = {{kDevice, 4, true, 1, 0},
                                              {kDevice + 4, 2, true, 2, 0},
                                              {kDevice, 8, true, 3, 0},
                                              {kDevice, 8, false, 0, 0},
                                              {kDevice + 0x10, 1, true, 4, 0}};
    EXPECT_EQ(seen, expected);
    EXPECT_EQ(s.results(5)[3].value, 3u);  // the read saw the posted writes
    EXPECT_EQ(r.exits.posted_writes, 4u);  // no write exited on its own
    EXPECT_EQ(r.exits.mmio, 1u);           // only the read
}

TEST(KvmWritePosting, ManyWritesOverflowTheRingAndStayInOrder) {
    GUESTMEM_REQUIRE_KVM();
    auto s = ScriptGuest::create();
    ASSERT_TRUE(s.g);
    std::vector<std::uint64_t> values;
    ASSERT_TRUE(s.g->vm().reserve_write_posting(kDevice, 0x1000, [&](Fault& f) {
        if (f.is_write()) values.push_back(f.data());
        return FaultResult::handled;
    }));
    std::vector<ScriptOp> ops;
    for (std::uint64_t i = 0; i < 100; ++i) ops.push_back(ScriptOp::write(kDevice + 8 * (i % 4), 8, i));
    // 100 ops fit one script page (32 bytes each); run it three times.
    std::vector<std::uint64_t> expected;
    for (int round = 0; round < 3; ++round) {
        const RunResult r = s.run(ops);
        ASSERT_EQ(r.reason, StopReason::halted) << r.message;
        for (std::uint64_t i = 0; i < 100; ++i) expected.push_back(i);
    }
    EXPECT_EQ(values, expected);
}

TEST(KvmWritePosting, FreeUnregistersTheZone) {
    GUESTMEM_REQUIRE_KVM();
    auto s = ScriptGuest::create();
    ASSERT_TRUE(s.g);
    auto id = s.g->vm().reserve_write_posting(kDevice, 0x1000, [](Fault&) { return FaultResult::handled; });
    ASSERT_TRUE(id);
    ASSERT_TRUE(s.g->vm().free(*id));
    std::vector<Access> unhandled;
    s.g->vm().set_unhandled_fault_handler([&](Fault& f) {
        unhandled.push_back(f.access());
        return FaultResult::handled;
    });
    const RunResult r = s.run({ScriptOp::write(kDevice, 4, 7)});
    ASSERT_EQ(r.reason, StopReason::halted) << r.message;
    EXPECT_EQ(r.exits.posted_writes, 0u);
    EXPECT_EQ(r.exits.mmio, 1u);
    ASSERT_EQ(unhandled.size(), 1u);
    EXPECT_EQ(unhandled[0].data, 7u);
}

TEST(KvmWritePosting, CannotBeMapped) {
    GUESTMEM_REQUIRE_KVM();
    auto s = ScriptGuest::create();
    ASSERT_TRUE(s.g);
    auto id = s.g->vm().reserve_write_posting(kDevice, 0x1000, [](Fault&) { return FaultResult::handled; });
    ASSERT_TRUE(id);
    auto frames = allocate_frames(s.g->caps(), 1);
    auto mapped = s.g->vm().map_frames(*id, frames, 12);
    ASSERT_FALSE(mapped);
    EXPECT_EQ(mapped.error().code, Errc::invalid_argument);
}

struct Rings {
    std::atomic<std::uint64_t> count{0};
    DoorbellHandler handler() {
        return [this](std::uint64_t n) { count += n; };
    }
};

TEST(KvmDoorbell, MatchingWritesRingWithoutExits) {
    GUESTMEM_REQUIRE_KVM();
    auto s = ScriptGuest::create();
    ASSERT_TRUE(s.g);
    Rings rings;
    auto id = s.g->vm().reserve_doorbell(kDevice, 4, rings.handler(), 0x1234);
    ASSERT_TRUE(id);
    std::vector<ScriptOp> ops;
    for (int i = 0; i < 5; ++i) ops.push_back(ScriptOp::write(kDevice, 4, 0x1234));
    ops.push_back(ScriptOp::write(kDevice, 4, 0x9999));  // another value: exits, ignored
    ops.push_back(ScriptOp::write(kDevice, 2, 0x1234));  // another size: exits, ignored
    ops.push_back(ScriptOp::read(kDevice, 4));           // reads yield 0
    ops.back().value = 0xdead;
    const RunResult r = s.run(ops);
    ASSERT_EQ(r.reason, StopReason::halted) << r.message;
    EXPECT_EQ(r.exits.mmio, 3u);  // the matching writes never exited
    EXPECT_EQ(s.results(ops.size())[7].value, 0u);
    ASSERT_TRUE(s.g->vm().free(*id));  // delivers what is pending, joins the thread
    EXPECT_EQ(rings.count.load(), 5u);
}

TEST(KvmDoorbell, AnyValueRingsWithoutMatch) {
    GUESTMEM_REQUIRE_KVM();
    auto s = ScriptGuest::create();
    ASSERT_TRUE(s.g);
    Rings rings;
    auto id = s.g->vm().reserve_doorbell(kDevice + 8, 8, rings.handler());
    ASSERT_TRUE(id);
    const RunResult r = s.run(
        {ScriptOp::write(kDevice + 8, 8, 1), ScriptOp::write(kDevice + 8, 8, 2), ScriptOp::write(kDevice + 8, 8, 0)});
    ASSERT_EQ(r.reason, StopReason::halted) << r.message;
    EXPECT_EQ(r.exits.mmio, 0u);
    ASSERT_TRUE(s.g->vm().free(*id));
    EXPECT_EQ(rings.count.load(), 3u);
}

TEST(KvmDoorbell, FreeDeregistersTheEventfd) {
    GUESTMEM_REQUIRE_KVM();
    auto s = ScriptGuest::create();
    ASSERT_TRUE(s.g);
    Rings rings;
    auto id = s.g->vm().reserve_doorbell(kDevice, 4, rings.handler(), 1);
    ASSERT_TRUE(id);
    ASSERT_TRUE(s.g->vm().free(*id));
    std::vector<Access> unhandled;
    s.g->vm().set_unhandled_fault_handler([&](Fault& f) {
        unhandled.push_back(f.access());
        return FaultResult::handled;
    });
    const RunResult r = s.run({ScriptOp::write(kDevice, 4, 1)});
    ASSERT_EQ(r.reason, StopReason::halted) << r.message;
    EXPECT_EQ(r.exits.mmio, 1u);
    EXPECT_EQ(unhandled.size(), 1u);
    EXPECT_EQ(rings.count.load(), 0u);
    // The address is free again: a new doorbell can take it.
    auto again = s.g->vm().reserve_doorbell(kDevice, 4, rings.handler(), 1);
    EXPECT_TRUE(again);
}

TEST(KvmDoorbell, HandlerCannotFreeItsOwnDoorbell) {
    GUESTMEM_REQUIRE_KVM();
    auto s = ScriptGuest::create();
    ASSERT_TRUE(s.g);
    std::atomic<int> refused{0};
    std::atomic<std::uint64_t> id_value{0};
    Vm& vm = s.g->vm();
    auto id = vm.reserve_doorbell(kDevice, 4, [&](std::uint64_t) {
        auto freed = vm.free(static_cast<ReservationId>(id_value.load()));
        if (!freed && freed.error().code == Errc::reentrant_call) ++refused;
    });
    ASSERT_TRUE(id);
    id_value = static_cast<std::uint64_t>(*id);
    const RunResult r = s.run({ScriptOp::write(kDevice, 4, 1)});
    ASSERT_EQ(r.reason, StopReason::halted) << r.message;
    // The ring is delivered on the doorbell's thread: wait for it (bounded).
    for (int i = 0; i < 500 && refused.load() == 0; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
    ASSERT_TRUE(vm.free(*id));
    EXPECT_EQ(refused.load(), 1);
}

}  // namespace
}  // namespace guestmem::test
