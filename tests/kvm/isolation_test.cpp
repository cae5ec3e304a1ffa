// SPDX-License-Identifier: BSD-2-Clause
// Guest isolation on every backend that runs guests: a guest cannot write a frame mapped read-only,
// cannot reach host memory outside its frames, cannot widen rights through a
// copied capability, and a hostile guest (the top of the address space,
// accesses straddling reservation ends, every size, in a tight loop, wild
// jumps) cannot crash the VMM.
#include <gtest/gtest.h>

#include <atomic>
#include <cstring>
#include <vector>

#include "kvm_test_support.hpp"

namespace guestmem::test {
namespace {

/// Parametrized over the backends that run guests (see guest_backends()).
class GuestIsolation : public GuestBackendTest {};
GUESTMEM_INSTANTIATE_FOR_GUEST_BACKENDS(GuestIsolation);

namespace gp = guestmem::guests;

constexpr std::uint8_t kCanary = 0xc5;

bool all_bytes(std::span<const std::byte> bytes, std::uint8_t value) {
    for (std::byte b : bytes)
        if (std::to_integer<std::uint8_t>(b) != value) return false;
    return true;
}

void fill(CapabilitySpace& caps, Cap cap, std::uint8_t value) {
    auto mem = caps.frame_memory(cap);
    std::memset(mem->data(), value, mem->size());
}

TEST_P(GuestIsolation, ReadOnlyFramesAndCopiedCapabilitiesCannotBeWritten) {
    auto g = GuestVm::create(backend());
    ASSERT_TRUE(g);
    Vm& vm = g->vm();
    CapabilitySpace& caps = g->caps();
    load_program(vm, gp::access_script::image_path);
    const Cap frame = *caps.allocate_frame(FrameSize::k4KiB);
    fill(caps, frame, 0xab);
    // A read-only copy; copying it back with all rights does not widen it.
    const Cap ro = *caps.copy(frame, Rights::read);
    const Cap widened = *caps.copy(ro, Rights::all);
    EXPECT_EQ(caps.lookup(widened)->rights, Rights::read);

    std::atomic<int> writes_trapped{0};
    auto trap = [&](Fault& f) {
        if (f.is_write()) ++writes_trapped;
        return f.is_write() ? FaultResult::ignore : FaultResult::error;
    };
    // 1. requested read-only rights on a full capability;
    // 2. all rights requested through the widened copy (iterator);
    // 3. all rights through map_frames with the read-only copy.
    const GuestAddr at[3] = {0x400000, 0x402000, 0x404000};
    auto r0 = vm.reserve_at(at[0], kPageSize, trap);
    auto r1 = vm.reserve_at(at[1], kPageSize, trap);
    auto r2 = vm.reserve_at(at[2], kPageSize, trap);
    ASSERT_TRUE(r0 && r1 && r2);
    ASSERT_TRUE(vm.map(*r0, [&](GuestAddr a) { return FrameRequest{frame, Rights::read, a, kPageBits}; }));
    ASSERT_TRUE(vm.map(*r1, [&](GuestAddr a) { return FrameRequest{widened, Rights::all, a, kPageBits}; }));
    const Cap ro_array[] = {ro};
    ASSERT_TRUE(vm.map_frames(*r2, ro_array, kPageBits));
    for (const auto& info : vm.reservations()) {
        if (info.id == *r0 || info.id == *r1 || info.id == *r2) {
            ASSERT_EQ(info.runs.size(), 1u);
            EXPECT_EQ(info.runs[0].rights, Rights::read) << "mapped read-only";
        }
    }

    std::vector<ScriptOp> ops;
    for (GuestAddr base : at) {
        for (std::uint32_t size : {1u, 2u, 4u, 8u})
            ops.push_back(ScriptOp::write(base + 0xff8, size, 0x1122334455667788ull));
        ops.push_back(ScriptOp::write(base, 8, 0));
        ops.push_back(ScriptOp::read(base + 0xff8, 8));
    }
    write_script(vm, kScripts, ops);
    Vcpu& vcpu = g->add_vcpu({kScripts, 10});
    const RunResult r = g->run(vcpu);
    ASSERT_EQ(r.reason, StopReason::halted) << r.message;
    EXPECT_EQ(writes_trapped.load(), 3 * 5 * 10) << "every write trapped";
    EXPECT_EQ(r.exits.mmio, 3u * 5 * 10) << "reads were served natively";
    EXPECT_TRUE(all_bytes(*caps.frame_memory(frame), 0xab)) << "the frame is unchanged";
    const auto back = read_script(vm, kScripts, ops.size());
    for (std::size_t i = 5; i < back.size(); i += 6) EXPECT_EQ(back[i].value, 0xababababababababull);
}

TEST_P(GuestIsolation, GuestCannotReachHostMemoryOutsideItsFrames) {
    auto g = GuestVm::create(backend());
    ASSERT_TRUE(g);
    Vm& vm = g->vm();
    CapabilitySpace& caps = g->caps();
    load_program(vm, gp::access_script::image_path);
    // Three frames back to back in host memory; only the middle one is the guest's.
    const std::vector<Cap> frames = allocate_frames(caps, 3);
    ASSERT_EQ(caps.frame_memory(frames[1])->data(), caps.frame_memory(frames[0])->data() + kPageSize);
    ASSERT_EQ(caps.frame_memory(frames[2])->data(), caps.frame_memory(frames[1])->data() + kPageSize);
    for (Cap c : frames) fill(caps, c, kCanary);
    constexpr GuestAddr kAt = 0x400000;
    auto id = vm.reserve_at(kAt, kPageSize, [](Fault&) { return FaultResult::unhandled; });
    ASSERT_TRUE(id);
    const Cap middle[] = {frames[1]};
    ASSERT_TRUE(vm.map_frames(*id, middle, kPageBits));
    std::atomic<int> unhandled{0};
    vm.set_unhandled_fault_handler([&](Fault&) {
        ++unhandled;
        return FaultResult::ignore;
    });

    std::vector<ScriptOp> ops;
    for (std::uint32_t size : {1u, 2u, 4u, 8u}) {
        const std::uint64_t v = 0x0102030405060708ull;
        ops.push_back(ScriptOp::write(kAt - size, size, v));            // just before the frame
        ops.push_back(ScriptOp::write(kAt + kPageSize, size, v));       // just after it
        ops.push_back(ScriptOp::write(kAt - 0x10000, size, v));         // far before
        ops.push_back(ScriptOp::write(kRamSize, size, v));              // just past guest RAM
        ops.push_back(ScriptOp::write(0x1'0000'0000 - size, size, v));  // top of the identity map
        ops.push_back(ScriptOp::read(kAt + kPageSize, size));
    }
    write_script(vm, kScripts, ops);
    Vcpu& vcpu = g->add_vcpu({kScripts, 20});
    const RunResult r = g->run(vcpu);
    ASSERT_EQ(r.reason, StopReason::halted) << r.message;
    // The emulator delivers each (aligned) 8-byte access as two 4-byte halves
    // (guestmem/emu.hpp, "Limits"): one more trap per 8-byte op.
    std::size_t traps_per_pass = ops.size();
    if (backend() == BackendKind::emu) {
        for (const ScriptOp& op : ops) traps_per_pass += op.size == 8 ? 1 : 0;
    }
    EXPECT_EQ(unhandled.load(), static_cast<int>(traps_per_pass * 20)) << "every access outside the frame trapped";
    EXPECT_TRUE(all_bytes(*caps.frame_memory(frames[0]), kCanary)) << "host memory before the frame untouched";
    EXPECT_TRUE(all_bytes(*caps.frame_memory(frames[1]), kCanary)) << "the guest wrote only outside its frame";
    EXPECT_TRUE(all_bytes(*caps.frame_memory(frames[2]), kCanary)) << "host memory after the frame untouched";
}

TEST_P(GuestIsolation, HostileGuestCannotCrashTheVmm) {
    auto g = GuestVm::create(backend());
    ASSERT_TRUE(g);
    Vm& vm = g->vm();
    load_program(vm, gp::access_script::image_path);
    constexpr GuestAddr kDev = kDevice, kRo = 0x400000;
    std::atomic<int> device_calls{0}, out_of_range{0}, unhandled{0};
    ASSERT_TRUE(vm.reserve_at(kDev, 0x100, [&](Fault& f) {
        ++device_calls;
        if (f.address() < kDev || f.address() + f.size() > kDev + 0x100) ++out_of_range;
        if (f.is_read()) f.set_data(0xd0d0d0d0d0d0d0d0ull);
        return FaultResult::handled;
    }));
    auto ro =
        vm.reserve_at(kRo, kPageSize, [](Fault& f) { return f.is_write() ? FaultResult::ignore : FaultResult::error; });
    ASSERT_TRUE(ro);
    const Cap ro_frame = *g->caps().allocate_frame(FrameSize::k4KiB);
    fill(g->caps(), ro_frame, 0x77);
    ASSERT_TRUE(vm.map(*ro, [&](GuestAddr a) { return FrameRequest{ro_frame, Rights::read, a, kPageBits}; }));
    vm.set_unhandled_fault_handler([&](Fault& f) {
        ++unhandled;
        if (f.is_read()) f.set_data(0xeeeeeeeeeeeeeeeeull);
        return FaultResult::handled;
    });

    std::vector<ScriptOp> ops;
    for (std::uint32_t size : {1u, 2u, 4u, 8u}) {
        const GuestAddr targets[] = {
            GuestAddr{0x1'0000'0000} - size,  // the top of the guest's reachable address space
            kDev + 0x100 - size / 2,          // straddling the device's end
            kDev - size / 2,                  // straddling its start
            kRamSize - size / 2,              // straddling the end of RAM into nothing
            kRo + kPageSize - size / 2,       // straddling the read-only frame's end
            kRo - size / 2,                   // and its start, from nothing
        };
        for (GuestAddr t : targets) {
            ops.push_back(ScriptOp::write(t, size, 0x8877665544332211ull));
            ops.push_back(ScriptOp::read(t, size));
        }
    }
    ASSERT_LT(ops.size() * sizeof(ScriptOp), kPageSize);
    write_script(vm, kScripts, ops);
    constexpr std::uint64_t kRepeat = 40;  // ~2000 hostile accesses
    Vcpu& vcpu = g->add_vcpu({kScripts, kRepeat});
    const RunResult r = g->run(vcpu);
    EXPECT_EQ(r.reason, StopReason::halted) << r.message;
    EXPECT_EQ(x86_registers(vcpu).rax, ops.size() * kRepeat);
    EXPECT_EQ(out_of_range.load(), 0) << "the device only ever saw accesses inside it";
    EXPECT_GT(unhandled.load(), 0);
    EXPECT_TRUE(all_bytes(*g->caps().frame_memory(ro_frame), 0x77)) << "the read-only frame is unchanged";
    std::printf("hostile loop: %zu accesses, %llu MMIO exits, %d device faults, %d unhandled\n", ops.size() * kRepeat,
                static_cast<unsigned long long>(r.exits.mmio), device_calls.load(), unhandled.load());

    // Wild jumps: into the device, the top of the address space, past the
    // identity map. Each run ends with a report; the VMM and the VM live on.
    load_program(vm, gp::crash::image_path, 0x60000);
    for (GuestAddr target : {GuestAddr{kDev}, GuestAddr{0xffff'f000}, GuestAddr{0x1'0000'0000}, GuestAddr{kRamSize}}) {
        g->reset(vcpu, {CRASH_JUMP, target}, 0x60000 - kImage);
        auto crashed = vcpu.run();
        ASSERT_TRUE(crashed) << crashed.error().message;
        EXPECT_NE(crashed->reason, StopReason::halted) << "jump to 0x" << std::hex << target;
    }
    g->reset(vcpu, {kScripts, 1});
    const RunResult again = g->run(vcpu);
    EXPECT_EQ(again.reason, StopReason::halted) << "the VM still runs guests: " << again.message;
}

}  // namespace
}  // namespace guestmem::test
