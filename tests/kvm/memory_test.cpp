// SPDX-License-Identifier: BSD-2-Clause
// Guest memory on KVM: memory slots per run, read-only runs, exact removal,
// slot exhaustion, 2 MiB and 1 GiB frames, frames shared between VMs.
#include <gtest/gtest.h>

#include <cstring>

#include "kvm_test_support.hpp"

namespace guestmem::test {
namespace {

namespace gp = guestmem::guests;

std::size_t slots(Vm& vm) { return kvm::memslot_usage(vm.backend())->in_use; }

// A GuestVm running access_script on one vCPU.
class ScriptGuest {
public:
    explicit ScriptGuest(std::unique_ptr<GuestVm> g) : g_(std::move(g)) {
        if (!g_) return;
        load_program(g_->vm(), gp::access_script::image_path);
        vcpu_ = &g_->add_vcpu({kScripts, 1});
    }
    bool ok() const { return g_ && vcpu_; }
    GuestVm& guest() { return *g_; }
    Vm& vm() { return g_->vm(); }
    RunResult run(const std::vector<ScriptOp>& ops) {
        write_script(vm(), kScripts, ops);
        g_->reset(*vcpu_, {kScripts, 1});
        return g_->run(*vcpu_);
    }
    std::vector<ScriptOp> results(std::size_t n) { return read_script(vm(), kScripts, n); }

private:
    std::unique_ptr<GuestVm> g_;
    Vcpu* vcpu_ = nullptr;
};

FaultHandler refuse() {
    return [](Fault&) { return FaultResult::error; };
}

TEST(KvmMemory, ContiguousFramesShareOneSlot) {
    GUESTMEM_REQUIRE_KVM();
    ScriptGuest s(GuestVm::create(BackendKind::kvm));
    ASSERT_TRUE(s.ok());
    EXPECT_EQ(slots(s.vm()), 1u);  // 512 frames of RAM: one run, one slot
    auto res = s.vm().reserve_at(0x400000, 32 * kPageSize, refuse());
    ASSERT_TRUE(res);
    ASSERT_TRUE(s.vm().map_frames(*res, allocate_frames(s.guest().caps(), 32), kPageBits));
    EXPECT_EQ(slots(s.vm()), 2u);
    const RunResult r =
        s.run({ScriptOp::write(0x400000, 8, 1), ScriptOp::write(0x41fff8, 8, 2), ScriptOp::read(0x41fff8, 8)});
    ASSERT_EQ(r.reason, StopReason::halted) << r.message;
    EXPECT_EQ(r.exits.mmio, 0u);
    EXPECT_EQ(s.results(3)[2].value, 2u);
    ASSERT_TRUE(s.vm().free(*res));
    EXPECT_EQ(slots(s.vm()), 1u);
}

TEST(KvmMemory, FramesApartInHostMemoryNeedASlotEach) {
    GUESTMEM_REQUIRE_KVM();
    ScriptGuest s(GuestVm::create(BackendKind::kvm));
    ASSERT_TRUE(s.ok());
    // Allocated alternately, each reservation's frames are not contiguous in the host.
    std::vector<Cap> a, b;
    for (int i = 0; i < 4; ++i) {
        a.push_back(*s.guest().caps().allocate_frame(FrameSize::k4KiB));
        b.push_back(*s.guest().caps().allocate_frame(FrameSize::k4KiB));
    }
    auto ra = s.vm().reserve_at(0x400000, 4 * kPageSize, refuse());
    ASSERT_TRUE(ra);
    ASSERT_TRUE(s.vm().map_frames(*ra, a, kPageBits));
    EXPECT_EQ(slots(s.vm()), 1u + 4u);
    const RunResult r = s.run({ScriptOp::write(0x400ffc, 8, 0x1122334455667788),  // spans two slots
                               ScriptOp::read(0x400ffc, 8)});
    ASSERT_EQ(r.reason, StopReason::halted) << r.message;
    EXPECT_EQ(s.results(2)[1].value, 0x1122334455667788u);
    std::uint32_t low = 0, high = 0;
    std::memcpy(&low, s.guest().caps().frame_memory(a[0])->data() + 0xffc, 4);
    std::memcpy(&high, s.guest().caps().frame_memory(a[1])->data(), 4);
    EXPECT_EQ(low, 0x55667788u);
    EXPECT_EQ(high, 0x11223344u);
}

TEST(KvmMemory, RightsSplitRunsAndReadOnlyRunsFault) {
    GUESTMEM_REQUIRE_KVM();
    ScriptGuest s(GuestVm::create(BackendKind::kvm));
    ASSERT_TRUE(s.ok());
    const std::vector<Cap> frames = allocate_frames(s.guest().caps(), 4);
    std::vector<Access> faults;
    constexpr GuestAddr base = 0x400000;
    auto res = s.vm().reserve_at(base, 4 * kPageSize, [&](Fault& f) {
        faults.push_back(f.access());
        return FaultResult::ignore;
    });
    ASSERT_TRUE(res);
    // rw, r, rw, rw: three runs.
    ASSERT_TRUE(s.vm().map(*res, [&](GuestAddr addr) {
        const std::size_t i = (addr - base) / kPageSize;
        return FrameRequest{frames[i], i == 1 ? Rights::read : Rights::read_write, addr, kPageBits};
    }));
    EXPECT_EQ(slots(s.vm()), 1u + 3u);
    const RunResult r =
        s.run({ScriptOp::write(base, 4, 1), ScriptOp::write(base + 0x1000, 4, 2), ScriptOp::write(base + 0x2000, 4, 3),
               ScriptOp::write(base + 0x3000, 4, 4), ScriptOp::read(base + 0x1000, 4)});
    ASSERT_EQ(r.reason, StopReason::halted) << r.message;
    EXPECT_EQ(r.exits.mmio, 1u);
    ASSERT_EQ(faults.size(), 1u);
    EXPECT_EQ(faults[0].addr, base + 0x1000);
    EXPECT_EQ(s.results(5)[4].value, 0u);
    ASSERT_TRUE(s.vm().free(*res));
    EXPECT_EQ(slots(s.vm()), 1u);
}

TEST(KvmMemory, FreeRemovesExactlyItsSlots) {
    GUESTMEM_REQUIRE_KVM();
    ScriptGuest s(GuestVm::create(BackendKind::kvm));
    ASSERT_TRUE(s.ok());
    auto a = s.vm().reserve_at(0x400000, 4 * kPageSize, refuse());
    auto b = s.vm().reserve_at(0x500000, 4 * kPageSize, refuse());
    ASSERT_TRUE(a && b);
    ASSERT_TRUE(s.vm().map_frames(*a, allocate_frames(s.guest().caps(), 4), kPageBits));
    ASSERT_TRUE(s.vm().map_frames(*b, allocate_frames(s.guest().caps(), 4), kPageBits));
    EXPECT_EQ(slots(s.vm()), 3u);
    ASSERT_TRUE(s.vm().free(*a));
    EXPECT_EQ(slots(s.vm()), 2u);
    std::vector<GuestAddr> unhandled;
    s.vm().set_unhandled_fault_handler([&](Fault& f) {
        unhandled.push_back(f.address());
        return FaultResult::ignore;
    });
    // b is still native memory; a's range is gone and faults to the unhandled handler.
    const RunResult r =
        s.run({ScriptOp::write(0x500010, 8, 7), ScriptOp::read(0x500010, 8), ScriptOp::read(0x400010, 8)});
    ASSERT_EQ(r.reason, StopReason::halted) << r.message;
    EXPECT_EQ(r.exits.mmio, 1u);
    EXPECT_EQ(s.results(3)[1].value, 7u);
    EXPECT_EQ(unhandled, std::vector<GuestAddr>{0x400010});
    // Re-creating the range maps it again.
    auto again = s.vm().reserve_at(0x400000, 4 * kPageSize, refuse());
    ASSERT_TRUE(again);
    ASSERT_TRUE(s.vm().map_frames(*again, allocate_frames(s.guest().caps(), 4), kPageBits));
    EXPECT_EQ(slots(s.vm()), 3u);
}

TEST(KvmMemory, SlotExhaustionIsACleanOutOfMemory) {
    GUESTMEM_REQUIRE_KVM();
    kvm::BackendOptions options;
    options.max_slots = 3;  // RAM takes one
    ScriptGuest s(GuestVm::create_kvm(options));
    ASSERT_TRUE(s.ok());
    EXPECT_EQ(kvm::memslot_usage(s.vm().backend())->limit, 3u);
    std::vector<Cap> scattered;
    for (int i = 0; i < 3; ++i) {
        scattered.push_back(*s.guest().caps().allocate_frame(FrameSize::k4KiB));
        (void)*s.guest().caps().allocate_frame(FrameSize::k4KiB);  // a gap in host memory
    }
    int faults = 0;
    auto res = s.vm().reserve_at(0x400000, 3 * kPageSize, [&](Fault&) {
        ++faults;
        return FaultResult::ignore;
    });
    ASSERT_TRUE(res);
    auto mapped = s.vm().map_frames(*res, scattered, kPageBits);  // three runs, two slots left
    ASSERT_FALSE(mapped);
    EXPECT_EQ(mapped.code(), Errc::out_of_memory) << mapped.error().message;
    EXPECT_EQ(slots(s.vm()), 1u);
    // All or nothing: the reservation is unmapped and its accesses fault.
    const RunResult r = s.run({ScriptOp::write(0x400000, 4, 1)});
    ASSERT_EQ(r.reason, StopReason::halted) << r.message;
    EXPECT_EQ(faults, 1);
    // Two contiguous frames fit.
    auto small = s.vm().reserve_at(0x500000, 2 * kPageSize, refuse());
    ASSERT_TRUE(small);
    EXPECT_TRUE(s.vm().map_frames(*small, allocate_frames(s.guest().caps(), 2), kPageBits));
    EXPECT_EQ(slots(s.vm()), 2u);
}

TEST(KvmMemory, LargeFramesOf2MiB) {
    GUESTMEM_REQUIRE_KVM();
    ScriptGuest s(GuestVm::create(BackendKind::kvm));
    ASSERT_TRUE(s.ok());
    constexpr GuestAddr base = 0x800000;
    const std::vector<Cap> frames = allocate_frames(s.guest().caps(), 2, FrameSize::k2MiB);
    ASSERT_EQ(frames.size(), 2u);
    auto res = s.vm().reserve_at(base, 2 * bytes_of(FrameSize::k2MiB), refuse());
    ASSERT_TRUE(res);
    ASSERT_TRUE(s.vm().map_frames(*res, frames, 21));
    EXPECT_EQ(slots(s.vm()), 2u);
    const GuestAddr spots[] = {base, base + 0x100000, base + 0x1ffff8, base + 0x200000, base + 0x3ffff8};
    std::vector<ScriptOp> ops;
    for (std::size_t i = 0; i < std::size(spots); ++i) ops.push_back(ScriptOp::write(spots[i], 8, 0xa0 + i));
    for (GuestAddr spot : spots) ops.push_back(ScriptOp::read(spot, 8));
    const RunResult r = s.run(ops);
    ASSERT_EQ(r.reason, StopReason::halted) << r.message;
    EXPECT_EQ(r.exits.mmio, 0u);
    const auto back = s.results(ops.size());
    for (std::size_t i = 0; i < std::size(spots); ++i) {
        EXPECT_EQ(back[std::size(spots) + i].value, 0xa0 + i);
        const Cap frame = frames[(spots[i] - base) >> 21];
        std::uint64_t in_host = 0;
        std::memcpy(&in_host, s.guest().caps().frame_memory(frame)->data() + ((spots[i] - base) & 0x1fffff), 8);
        EXPECT_EQ(in_host, 0xa0 + i);
    }
}

TEST(KvmMemory, LargeFrameOf1GiB) {
    GUESTMEM_REQUIRE_KVM();
    ScriptGuest s(GuestVm::create(BackendKind::kvm));
    ASSERT_TRUE(s.ok());
    constexpr GuestAddr base = GuestAddr{1} << 30;
    auto frame = s.guest().caps().allocate_frame(FrameSize::k1GiB);
    ASSERT_TRUE(frame) << frame.error().message;
    auto res = s.vm().reserve_at(base, bytes_of(FrameSize::k1GiB), refuse());
    ASSERT_TRUE(res);
    const Cap frames[] = {*frame};
    ASSERT_TRUE(s.vm().map_frames(*res, frames, 30));
    EXPECT_EQ(slots(s.vm()), 2u);
    const std::uint64_t offsets[] = {0, 0x20000008, 0x3ffffff8};
    std::vector<ScriptOp> ops;
    for (std::uint64_t o : offsets) ops.push_back(ScriptOp::write(base + o, 8, o ^ 0x5555));
    for (std::uint64_t o : offsets) ops.push_back(ScriptOp::read(base + o, 8));
    const RunResult r = s.run(ops);
    ASSERT_EQ(r.reason, StopReason::halted) << r.message;
    EXPECT_EQ(r.exits.mmio, 0u);
    const auto back = s.results(ops.size());
    for (std::size_t i = 0; i < std::size(offsets); ++i) {
        EXPECT_EQ(back[std::size(offsets) + i].value, offsets[i] ^ 0x5555);
        std::uint64_t in_host = 0;
        std::memcpy(&in_host, s.guest().caps().frame_memory(*frame)->data() + offsets[i], 8);
        EXPECT_EQ(in_host, offsets[i] ^ 0x5555);
    }
    ASSERT_TRUE(s.vm().free(*res));
    EXPECT_EQ(slots(s.vm()), 1u);
}

TEST(KvmMemory, TwoVmsShareAFrame) {
    GUESTMEM_REQUIRE_KVM();
    auto caps = std::make_shared<CapabilitySpace>();
    ScriptGuest a(GuestVm::create(BackendKind::kvm, caps));
    ScriptGuest b(GuestVm::create(BackendKind::kvm, caps));
    ASSERT_TRUE(a.ok() && b.ok());
    auto shared = caps->allocate_frame(FrameSize::k4KiB);
    ASSERT_TRUE(shared);
    const Cap frames[] = {*shared};
    // At different guest addresses in the two VMs.
    auto ra = a.vm().reserve_at(0x400000, kPageSize, refuse());
    auto rb = b.vm().reserve_at(0x700000, kPageSize, refuse());
    ASSERT_TRUE(ra && rb);
    ASSERT_TRUE(a.vm().map_frames(*ra, frames, kPageBits));
    ASSERT_TRUE(b.vm().map_frames(*rb, frames, kPageBits));

    RunResult r = a.run({ScriptOp::write(0x400100, 8, 0xfeedface12345678)});
    ASSERT_EQ(r.reason, StopReason::halted) << r.message;
    r = b.run({ScriptOp::read(0x700100, 8), ScriptOp::write(0x700200, 4, 0xc0ffee)});
    ASSERT_EQ(r.reason, StopReason::halted) << r.message;
    EXPECT_EQ(b.results(1)[0].value, 0xfeedface12345678u);
    r = a.run({ScriptOp::read(0x400200, 4)});
    ASSERT_EQ(r.reason, StopReason::halted) << r.message;
    EXPECT_EQ(a.results(1)[0].value, 0xc0ffeeu);
    // Freeing one VM's mapping leaves the other's.
    ASSERT_TRUE(a.vm().free(*ra));
    r = b.run({ScriptOp::read(0x700100, 8)});
    ASSERT_EQ(r.reason, StopReason::halted) << r.message;
    EXPECT_EQ(r.exits.mmio, 0u);
    EXPECT_EQ(b.results(1)[0].value, 0xfeedface12345678u);
}

}  // namespace
}  // namespace guestmem::test
