// SPDX-License-Identifier: BSD-2-Clause
// Guests on every backend that runs them (long mode, MMIO of every size, fault
// results, stops and exits, guests that misbehave), and KVM's own: real mode,
// port I/O, memory slots.
#include <gtest/gtest.h>

#include <atomic>
#include <cstdio>
#include <cstring>
#include <chrono>
#include <string>
#include <thread>

#include "kvm_test_support.hpp"

namespace guestmem::test {
namespace {

namespace gp = guestmem::guests;

/// Guests run on each backend that runs guests (see guest_backends()).
class GuestRun : public GuestBackendTest {};
GUESTMEM_INSTANTIATE_FOR_GUEST_BACKENDS(GuestRun);

TEST(KvmGuest, RealModeDeviceAndPortIo) {
    GUESTMEM_REQUIRE_KVM();
    auto g = GuestVm::create(BackendKind::kvm, nullptr, 0x80000);  // RAM below 512 KiB
    ASSERT_TRUE(g);
    constexpr GuestAddr device = 0xb0000;  // segment 0xb000
    RegisterFile regs(device);
    auto dev = g->vm().reserve_at(device, RegisterFile::kSize, regs.handler());
    ASSERT_TRUE(dev);
    load_program(g->vm(), gp::real_mode::image_path);

    auto vcpu = g->vm().create_vcpu();
    ASSERT_TRUE(vcpu);
    std::string out;
    ASSERT_TRUE((*vcpu)->set_port_io_handler([&](PortAccess& p) {
        EXPECT_EQ(p.port, GUEST_DEBUG_PORT);
        EXPECT_EQ(p.size, 1);
        if (p.is_write) {
            out += static_cast<char>(p.data);
        } else {
            p.data = '!';
        }
        return PortResult::handled;
    }));
    ASSERT_TRUE((*vcpu)->boot({.entry = kImage, .stack = 0, .args = {device >> 4}, .x86_real_mode = true}));

    const RunResult r = g->run(**vcpu);
    ASSERT_EQ(r.reason, StopReason::halted) << r.message;
    const X86Registers regs_after = x86_registers(**vcpu);
    const X86Registers* state = &regs_after;
    EXPECT_EQ(state->rbx & 0xff, 0x11u);
    EXPECT_EQ(state->rcx & 0xffff, 0x2222u);
    EXPECT_EQ(state->rdx & 0xffffffff, 0x44444444u);
    EXPECT_EQ(state->rax & 0xff, static_cast<unsigned>('!'));
    EXPECT_EQ(out, "OK");
    EXPECT_EQ(r.exits.port_io, 3u);
    EXPECT_EQ(r.exits.mmio, 6u);  // three writes and three reads; the RAM store is native
    std::uint16_t result = 0;
    ASSERT_TRUE(read_guest(g->vm(), kImage + gp::real_mode::result, std::as_writable_bytes(std::span(&result, 1))));
    EXPECT_EQ(result, 0x2222);
    EXPECT_EQ(regs.seen(), (std::vector<SeenAccess>{
                               {0, 1, true, 0x11, 0xff},
                               {2, 2, true, 0x2222, 0xffff0000},
                               {4, 4, true, 0x44444444, 0xffffffff},
                               {0, 1, false, 0, 0xff},
                               {2, 2, false, 0, 0xffff0000},
                               {4, 4, false, 0, 0xffffffff},
                           }));
}

TEST_P(GuestRun, LongModeMmioEverySize) {
    auto g = GuestVm::create(backend());
    ASSERT_TRUE(g);
    RegisterFile regs(kDevice);
    ASSERT_TRUE(g->vm().reserve_at(kDevice, RegisterFile::kSize, regs.handler()));
    load_program(g->vm(), gp::mmio_sizes::image_path);
    Vcpu& vcpu = g->add_vcpu({kDevice});

    const RunResult r = g->run(vcpu);
    ASSERT_EQ(r.reason, StopReason::halted) << r.message;
    EXPECT_EQ(r.ip, kImage + gp::mmio_sizes::done + 1);  // just past the HLT
    const X86Registers regs_after = x86_registers(vcpu);
    const X86Registers* s = &regs_after;
    EXPECT_EQ(s->r8, 0xa1u);
    EXPECT_EQ(s->r9, 0xb2b1u);
    EXPECT_EQ(s->r10, 0xc4c3c2c1u);
    EXPECT_EQ(s->r11, 0xd8d7d6d5d4d3d2d1u);
    EXPECT_EQ(s->r12, 0x5au);
    if (backend() == BackendKind::emu) {
        // The emulator delivers an 8-byte access as two 4-byte halves, low
        // half first (guestmem/emu.hpp, "Limits"): the guest still reads the
        // whole value (r11 above).
        EXPECT_EQ(r.exits.mmio, 12u);
        EXPECT_EQ(regs.seen(), (std::vector<SeenAccess>{
                                   {0, 1, true, 0xa1, 0xff},
                                   {8, 2, true, 0xb2b1, 0xffff},
                                   {16, 4, true, 0xc4c3c2c1, 0xffffffff},
                                   {24, 4, true, 0xd4d3d2d1, 0xffffffff},
                                   {28, 4, true, 0xd8d7d6d5, 0xffffffff},
                                   {0, 1, false, 0, 0xff},
                                   {8, 2, false, 0, 0xffff},
                                   {16, 4, false, 0, 0xffffffff},
                                   {24, 4, false, 0, 0xffffffff},
                                   {28, 4, false, 0, 0xffffffff},
                                   {34, 2, true, 0x5a6b, 0xffff0000},
                                   {35, 1, false, 0, 0xff000000},
                               }));
        return;
    }
    EXPECT_EQ(r.exits.mmio, 10u);
    EXPECT_EQ(regs.seen(), (std::vector<SeenAccess>{
                               {0, 1, true, 0xa1, 0xff},
                               {8, 2, true, 0xb2b1, 0xffff},
                               {16, 4, true, 0xc4c3c2c1, 0xffffffff},
                               {24, 8, true, 0xd8d7d6d5d4d3d2d1, ~std::uint64_t{0}},
                               {0, 1, false, 0, 0xff},
                               {8, 2, false, 0, 0xffff},
                               {16, 4, false, 0, 0xffffffff},
                               {24, 8, false, 0, ~std::uint64_t{0}},
                               {34, 2, true, 0x5a6b, 0xffff0000},
                               {35, 1, false, 0, 0xff000000},
                           }));
}

// A VM running access_script on one vCPU, with a script page at kScripts.
struct ScriptVm {
    std::unique_ptr<GuestVm> g;
    Vcpu* vcpu = nullptr;

    static ScriptVm create(BackendKind backend, std::shared_ptr<CapabilitySpace> caps = nullptr) {
        ScriptVm s;
        s.g = GuestVm::create(backend, std::move(caps));
        if (!s.g) return s;
        load_program(s.g->vm(), gp::access_script::image_path);
        s.vcpu = &s.g->add_vcpu({kScripts, 1});
        return s;
    }
    /// Runs the ops (repeat times) from the start of the program.
    RunResult run(const std::vector<ScriptOp>& ops, std::uint64_t repeat = 1) {
        write_script(g->vm(), kScripts, ops);
        g->reset(*vcpu, {kScripts, repeat});
        return g->run(*vcpu);
    }
    std::vector<ScriptOp> results(std::size_t count) { return read_script(g->vm(), kScripts, count); }
    std::uint64_t rax() { return x86_registers(*vcpu).rax; }
};

TEST_P(GuestRun, FaultIgnoreDropsWritesAndReadsZero) {
    auto s = ScriptVm::create(backend());
    ASSERT_TRUE(s.g);
    std::vector<Access> seen;
    ASSERT_TRUE(s.g->vm().reserve_at(kDevice, 0x1000, [&](Fault& f) {
        seen.push_back(f.access());
        return FaultResult::ignore;
    }));
    std::vector<ScriptOp> ops = {ScriptOp::write(kDevice, 4, 0x12345678), ScriptOp::read(kDevice, 8),
                                 ScriptOp::read(kDevice + 8, 2)};
    ops[1].value = ops[2].value = 0xdeadbeef;  // the guest must overwrite these with 0
    const RunResult r = s.run(ops);
    ASSERT_EQ(r.reason, StopReason::halted) << r.message;
    EXPECT_EQ(s.rax(), 3u);
    const auto back = s.results(3);
    EXPECT_EQ(back[1].value, 0u);
    EXPECT_EQ(back[2].value, 0u);
    if (backend() == BackendKind::emu) {
        // The 8-byte read arrives as two ignored 4-byte halves (guestmem/emu.hpp, "Limits").
        ASSERT_EQ(seen.size(), 4u);
        EXPECT_TRUE(seen[0].is_write);
        EXPECT_EQ(seen[0].data, 0x12345678u);
        EXPECT_EQ(seen[1].addr, kDevice);
        EXPECT_EQ(seen[1].size, 4);
        EXPECT_EQ(seen[2].addr, kDevice + 4);
        EXPECT_EQ(seen[2].size, 4);
        EXPECT_EQ(seen[3].addr, kDevice + 8);
        return;
    }
    ASSERT_EQ(seen.size(), 3u);
    EXPECT_TRUE(seen[0].is_write);
    EXPECT_EQ(seen[0].data, 0x12345678u);
    EXPECT_EQ(seen[1].size, 8);
    EXPECT_EQ(seen[2].addr, kDevice + 8);
}

TEST_P(GuestRun, FaultErrorStopsTheRunAndReportsTheAccess) {
    auto s = ScriptVm::create(backend());
    ASSERT_TRUE(s.g);
    int calls = 0;
    ASSERT_TRUE(s.g->vm().reserve_at(kDevice, 0x1000, [&](Fault&) {
        ++calls;
        return FaultResult::error;
    }));

    // A write.
    RunResult r = s.run({ScriptOp::read(kRamBase + 0x100, 4), ScriptOp::write(kDevice + 6, 2, 0xbeef),
                         ScriptOp::read(kRamBase + 0x100, 4)});
    ASSERT_EQ(r.reason, StopReason::fault_error) << r.message;
    ASSERT_TRUE(r.fault);
    EXPECT_EQ(r.fault->access.addr, kDevice + 6);
    EXPECT_EQ(r.fault->access.size, 2);
    EXPECT_TRUE(r.fault->access.is_write);
    EXPECT_EQ(r.fault->access.data, 0xbeefu);
    if (backend() == BackendKind::kvm) {
        // KVM has moved past the write when it exits (see guestmem/kvm.hpp).
        EXPECT_EQ(r.fault->ip, kImage + gp::access_script::after_write_2);
    }
    EXPECT_NE(r.message.find("FAULT_ERROR"), std::string::npos) << r.message;
    EXPECT_EQ(s.rax(), 1u);  // one op done before the failing one
    EXPECT_EQ(calls, 1);

    // A read: the instruction pointer is the faulting instruction's.
    r = s.run({ScriptOp::read(kDevice + 0x10, 4)});
    ASSERT_EQ(r.reason, StopReason::fault_error) << r.message;
    ASSERT_TRUE(r.fault);
    EXPECT_EQ(r.fault->access.addr, kDevice + 0x10);
    EXPECT_EQ(r.fault->access.size, 4);
    EXPECT_FALSE(r.fault->access.is_write);
    EXPECT_EQ(r.fault->ip, kImage + gp::access_script::insn_read_4);
    EXPECT_EQ(r.ip, kImage + gp::access_script::insn_read_4);

    // The vCPU is consistent afterwards: running on completes the failed read
    // as 0 and the guest finishes its script.
    r = s.g->run(*s.vcpu);
    ASSERT_EQ(r.reason, StopReason::halted) << r.message;
    EXPECT_EQ(s.rax(), 1u);
    EXPECT_EQ(s.results(1)[0].value, 0u);
    EXPECT_EQ(calls, 2);
}

TEST_P(GuestRun, UnhandledFaultHandlerGetsAccessesOutsideEveryReservation) {
    auto s = ScriptVm::create(backend());
    ASSERT_TRUE(s.g);
    RegisterFile regs(kDevice);
    ASSERT_TRUE(s.g->vm().reserve_at(kDevice, RegisterFile::kSize, regs.handler()));

    // Without an unhandled-fault handler, an access nowhere is an error.
    RunResult r = s.run({ScriptOp::read(0xe0000000, 4)});
    ASSERT_EQ(r.reason, StopReason::fault_error);
    ASSERT_TRUE(r.fault);
    EXPECT_EQ(r.fault->access.addr, 0xe0000000u);
    EXPECT_NE(std::string(r.fault->reason).find("no reservation"), std::string::npos) << r.fault->reason;

    std::vector<Access> seen;
    s.g->vm().set_unhandled_fault_handler([&](Fault& f) {
        seen.push_back(f.access());
        if (f.is_read()) f.set_data(0x77);
        return FaultResult::handled;
    });
    // A 4-byte register at `tail`; an 8-byte read there crosses its end.
    const GuestAddr tail = kDevice + 0x1800;
    ASSERT_TRUE(s.g->vm().reserve_at(tail, 4, [](Fault& f) {
        f.set_data(0x44332211);
        return FaultResult::handled;
    }));
    r = s.run(
        {ScriptOp::read(0xe0000000, 4), ScriptOp::write(0xe0001000, 8, 0x0102030405060708), ScriptOp::read(tail, 8)});
    ASSERT_EQ(r.reason, StopReason::halted) << r.message;
    const auto back = s.results(3);
    EXPECT_EQ(back[0].value, 0x77u);
    EXPECT_EQ(back[2].value, 0x0000007744332211u) << "split: the register's 4 bytes, then the unhandled 4";
    if (backend() == BackendKind::emu) {
        // The 8-byte write arrives as two 4-byte halves, low half first (guestmem/emu.hpp, "Limits").
        ASSERT_EQ(seen.size(), 4u);
        EXPECT_EQ(seen[0].addr, 0xe0000000u);
        EXPECT_EQ(seen[1].addr, 0xe0001000u);
        EXPECT_EQ(seen[1].size, 4);
        EXPECT_EQ(seen[1].data, 0x05060708u);
        EXPECT_EQ(seen[2].addr, 0xe0001004u);
        EXPECT_EQ(seen[2].size, 4);
        EXPECT_EQ(seen[2].data, 0x01020304u);
        EXPECT_EQ(seen[3].addr, tail + 4);
        EXPECT_EQ(seen[3].size, 4);
        EXPECT_EQ(regs.accesses(), 0u);
        return;
    }
    ASSERT_EQ(seen.size(), 3u);
    EXPECT_EQ(seen[0].addr, 0xe0000000u);
    EXPECT_EQ(seen[1].addr, 0xe0001000u);
    EXPECT_EQ(seen[1].data, 0x0102030405060708u);
    EXPECT_EQ(seen[2].addr, tail + 4);
    EXPECT_EQ(seen[2].size, 4);
    EXPECT_EQ(regs.accesses(), 0u);
}

TEST_P(GuestRun, DeferredMappingCompletesTheFirstTouchFromMemory) {
    auto s = ScriptVm::create(backend());
    ASSERT_TRUE(s.g);
    Vm& vm = s.g->vm();
    constexpr GuestAddr base = 0x400000;
    const std::vector<Cap> frames = allocate_frames(s.g->caps(), 16);
    // The VMM put data in the frames before the guest runs.
    const std::uint64_t seed = 0x1122334455667788;
    std::memcpy(s.g->caps().frame_memory(frames[0])->data() + 0x10, &seed, sizeof seed);

    int handler_calls = 0;
    auto res = vm.reserve_at(base, 16 * kPageSize, [&](Fault&) {
        ++handler_calls;
        return FaultResult::error;
    });
    ASSERT_TRUE(res);
    int iterator_calls = 0;
    vm.set_deferred_mapping(true);
    ASSERT_TRUE(vm.map(*res, [&](GuestAddr addr) {
        ++iterator_calls;
        return FrameRequest{frames[(addr - base) / kPageSize], Rights::all, addr, kPageBits};
    }));
    vm.set_deferred_mapping(false);
    EXPECT_EQ(iterator_calls, 0);
    const bool on_kvm = backend() == BackendKind::kvm;
    const std::size_t slots_before = on_kvm ? kvm::memslot_usage(vm.backend())->in_use : 0;

    const RunResult r = s.run({ScriptOp::read(base + 0x10, 8),             // first touch: restart
                               ScriptOp::write(base + 0x1000, 4, 0xabcd),  // native now
                               ScriptOp::read(base + 0x1000, 4), ScriptOp::read(base + 0xfff8, 8)});
    ASSERT_EQ(r.reason, StopReason::halted) << r.message;
    // Only the first touch left the guest. The emulator delivers that 8-byte
    // read as two 4-byte halves (guestmem/emu.hpp, "Limits"): the first maps
    // the reservation, the second, in the same instruction, is completed from
    // the frame by the library.
    EXPECT_EQ(r.exits.mmio, on_kvm ? 1u : 2u);
    EXPECT_EQ(iterator_calls, 16);
    EXPECT_EQ(handler_calls, 0);
    const auto back = s.results(4);
    EXPECT_EQ(back[0].value, seed);
    EXPECT_EQ(back[2].value, 0xabcdu);
    EXPECT_EQ(back[3].value, 0u);
    std::uint32_t in_frame = 0;
    std::memcpy(&in_frame, s.g->caps().frame_memory(frames[1])->data(), sizeof in_frame);
    EXPECT_EQ(in_frame, 0xabcdu);
    if (on_kvm) {
        EXPECT_EQ(kvm::memslot_usage(vm.backend())->in_use, slots_before + 1);  // 16 contiguous frames, one slot
    }
}

TEST_P(GuestRun, ReadOnlyFrameWritesFaultWhileReadsStayNative) {
    auto s = ScriptVm::create(backend());
    ASSERT_TRUE(s.g);
    Vm& vm = s.g->vm();
    constexpr GuestAddr rom = 0x600000;
    auto frame = s.g->caps().allocate_frame(FrameSize::k4KiB);
    ASSERT_TRUE(frame);
    const std::uint64_t contents = 0x0123456789abcdef;
    std::vector<Access> writes;
    auto res = vm.reserve_at(rom, kPageSize, [&](Fault& f) {
        writes.push_back(f.access());
        return FaultResult::handled;  // a ROM: the write goes nowhere
    });
    ASSERT_TRUE(res);
    ASSERT_TRUE(vm.map(*res, [&](GuestAddr addr) { return FrameRequest{*frame, Rights::read, addr, kPageBits}; }));
    // The VMM loads the ROM's contents although the guest may only read it.
    ASSERT_TRUE(load_image(vm, rom, std::as_bytes(std::span(&contents, 1))));

    RunResult r = s.run({ScriptOp::read(rom, 8), ScriptOp::write(rom + 8, 4, 0xdead), ScriptOp::read(rom + 8, 4),
                         ScriptOp::read(rom + 4, 2)});
    ASSERT_EQ(r.reason, StopReason::halted) << r.message;
    EXPECT_EQ(r.exits.mmio, 1u);
    const auto back = s.results(4);
    EXPECT_EQ(back[0].value, contents);
    EXPECT_EQ(back[2].value, 0u);       // the write never reached memory
    EXPECT_EQ(back[3].value, 0x4567u);  // bytes 4 and 5 of the little-endian word
    ASSERT_EQ(writes.size(), 1u);
    EXPECT_EQ(writes[0].addr, rom + 8);
    EXPECT_EQ(writes[0].size, 4);
    EXPECT_TRUE(writes[0].is_write);
    EXPECT_EQ(writes[0].data, 0xdeadu);

    // Reads at native speed: a thousand of them leave the guest not once.
    r = s.run({ScriptOp::read(rom, 8), ScriptOp::read(rom + 0xff8, 8)}, 500);
    ASSERT_EQ(r.reason, StopReason::halted) << r.message;
    EXPECT_EQ(r.exits.mmio, 0u);
    EXPECT_EQ(s.rax(), 1000u);
}

TEST(KvmGuest, PortIoWithoutHandlerStopsTheRun) {
    GUESTMEM_REQUIRE_KVM();
    auto g = GuestVm::create(BackendKind::kvm, nullptr, 0x80000);
    ASSERT_TRUE(g);
    constexpr GuestAddr device = 0xb0000;
    RegisterFile regs(device);
    ASSERT_TRUE(g->vm().reserve_at(device, RegisterFile::kSize, regs.handler()));
    load_program(g->vm(), gp::real_mode::image_path);
    auto vcpu = g->vm().create_vcpu();
    ASSERT_TRUE(vcpu);
    ASSERT_TRUE((*vcpu)->boot({.entry = kImage, .stack = 0, .args = {device >> 4}, .x86_real_mode = true}));
    const RunResult r = g->run(**vcpu);
    ASSERT_EQ(r.reason, StopReason::port_io_error) << r.message;
    ASSERT_TRUE(r.port);
    EXPECT_EQ(r.port->port, GUEST_DEBUG_PORT);
    EXPECT_TRUE(r.port->is_write);
    EXPECT_EQ(r.port->data, static_cast<std::uint32_t>('O'));
    EXPECT_NE(r.message.find("no port I/O handler"), std::string::npos) << r.message;
}

TEST_P(GuestRun, GuestCrashesAreReportedCleanly) {
    auto g = GuestVm::create(backend());
    ASSERT_TRUE(g);
    RegisterFile regs(kDevice);
    ASSERT_TRUE(g->vm().reserve_at(kDevice, RegisterFile::kSize, regs.handler()));
    load_program(g->vm(), gp::crash::image_path);

    Vcpu& vcpu = g->add_vcpu({CRASH_UD2});
    RunResult r = g->run(vcpu);
    EXPECT_EQ(r.reason, StopReason::exception) << r.message;
    if (backend() == BackendKind::kvm) {
        EXPECT_NE(r.message.find("triple fault"), std::string::npos) << r.message;
    }

    Vcpu& jumper = g->add_vcpu({CRASH_JUMP, kDevice});  // code fetched from an emulated device
    r = g->run(jumper);
    if (backend() == BackendKind::kvm) {
        EXPECT_EQ(r.reason, StopReason::internal_error) << r.message;
        EXPECT_NE(r.message.find("emulation failure"), std::string::npos) << r.message;
    } else {
        EXPECT_NE(r.reason, StopReason::halted) << r.message;
    }
    EXPECT_EQ(r.ip, kDevice);
    EXPECT_EQ(regs.accesses(), 0u);
}

TEST_P(GuestRun, RequestStopEndsARunningGuest) {
    auto g = GuestVm::create(backend());
    ASSERT_TRUE(g);
    load_program(g->vm(), gp::ping_pong::image_path);
    // A pinger with no ponger spins forever in guest RAM.
    Vcpu& vcpu = g->add_vcpu({0x100000, 0, 10});

    // Asked before the run: the run returns at once.
    vcpu.request_stop();
    RunResult r = g->run(vcpu);
    EXPECT_EQ(r.reason, StopReason::stopped);
    EXPECT_EQ(r.exits.total, 0u);

    std::thread runner([&] { r = g->run(vcpu); });
    // The pinger's first store shows that the guest is running.
    for (int i = 0; i < 5000; ++i) {
        auto ping = read_guest_value<std::uint64_t>(g->vm(), 0x100000 + PING_WORD);
        if (ping && *ping == 1) break;
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    // Running twice at once is refused.
    auto twice = vcpu.run();
    EXPECT_TRUE(!twice && twice.code() == Errc::invalid_argument);
    vcpu.request_stop();
    runner.join();
    EXPECT_EQ(r.reason, StopReason::stopped) << r.message;
    EXPECT_GE(r.exits.interrupted, 1u);
    const GuestAddr ip = r.ip;
    EXPECT_GE(ip, kImage);
    EXPECT_LT(ip, kImage + gp::ping_pong::done);
}

TEST_P(GuestRun, RequestExitFromAHandlerEndsTheRunWithItsStatus) {
    auto s = ScriptVm::create(backend());
    ASSERT_TRUE(s.g);
    // An exit register: a write ends the run with the value written.
    std::vector<Access> seen;
    ASSERT_TRUE(s.g->vm().reserve_at(kDevice, 0x1000, [&](Fault& f) {
        seen.push_back(f.access());
        if (f.is_write() && f.address() == kDevice) f.vcpu().request_exit(static_cast<std::int64_t>(f.data()));
        return FaultResult::handled;
    }));
    RunResult r = s.run({ScriptOp::write(kDevice, 4, 42), ScriptOp::write(kDevice + 8, 4, 1)});
    ASSERT_EQ(r.reason, StopReason::exited) << r.message;
    EXPECT_EQ(r.exit_status, 42);
    EXPECT_TRUE(r.message.empty()) << r.message;
    ASSERT_EQ(seen.size(), 1u) << "the run ended before the guest's next access";
    EXPECT_EQ(seen[0].data, 42u);

    // The exiting write was completed: running on continues after it.
    r = s.g->run(*s.vcpu);
    ASSERT_EQ(r.reason, StopReason::halted) << r.message;
    EXPECT_EQ(r.exit_status, 0);
    ASSERT_EQ(seen.size(), 2u);
    EXPECT_EQ(seen[1].addr, kDevice + 8);
    EXPECT_EQ(s.rax(), 2u);
}

// Not a benchmark with a threshold (this machine's KVM is a software one):
// prints what an MMIO exit costs relative to a native access, for the record.
TEST_P(GuestRun, NativeMemoryVersusMmioExitCost) {
    auto s = ScriptVm::create(backend());
    ASSERT_TRUE(s.g);
    RegisterFile regs(kDevice);
    ASSERT_TRUE(s.g->vm().reserve_at(kDevice, RegisterFile::kSize, regs.handler()));
    constexpr std::uint64_t kAccesses = 500;
    auto timed = [&](GuestAddr addr) {
        const auto start = std::chrono::steady_clock::now();
        const RunResult r = s.run({ScriptOp::read(addr, 8)}, kAccesses);
        const auto ns = std::chrono::duration<double, std::nano>(std::chrono::steady_clock::now() - start).count();
        EXPECT_EQ(r.reason, StopReason::halted) << r.message;
        return std::make_pair(ns / kAccesses, r.exits.mmio);
    };
    timed(kRamBase + 0x100);  // warm up: page-table and RAM pages touched
    const auto [ram_ns, ram_exits] = timed(kRamBase + 0x100);
    const std::size_t device_before = regs.accesses();
    const auto [mmio_ns, mmio_exits] = timed(kDevice);
    EXPECT_EQ(ram_exits, 0u);
    // Each access is an 8-byte read: the emulator delivers it as two 4-byte
    // halves (guestmem/emu.hpp, "Limits"), two exits and two device accesses.
    const std::uint64_t parts = backend() == BackendKind::emu ? 2 : 1;
    EXPECT_EQ(mmio_exits, kAccesses * parts);
    EXPECT_EQ(regs.accesses() - device_before, kAccesses * parts);
    std::printf("per access (script loop included): RAM %.0f ns, MMIO exit %.0f ns, ratio %.1f\n", ram_ns, mmio_ns,
                mmio_ns / ram_ns);
}

TEST(KvmApi, RejectsWhatItCannotDo) {
    GUESTMEM_REQUIRE_KVM();
    auto g = GuestVm::create(BackendKind::kvm);
    ASSERT_TRUE(g);
    auto vcpu = g->vm().create_vcpu();
    ASSERT_TRUE(vcpu);
    EXPECT_EQ((*vcpu)->boot({.entry = 0x10008, .x86_real_mode = true}).code(), Errc::invalid_argument);
    EXPECT_EQ((*vcpu)->boot({.entry = 0x100000, .x86_real_mode = true}).code(), Errc::invalid_argument);
    EXPECT_EQ((*vcpu)->boot({.entry = kImage, .x86_tables = 0x1800}).code(), Errc::invalid_argument);
    EXPECT_FALSE((*vcpu)->boot({.entry = kImage, .x86_tables = 0x10000000}));  // not RAM
    EXPECT_EQ((*vcpu)->set_registers(Arm64Registers{}).code(), Errc::invalid_argument);
    EXPECT_EQ((*vcpu)->set_system_state(Arm64SystemState{}).code(), Errc::invalid_argument);
    EXPECT_FALSE(load_image_file(g->vm(), kImage, "/nonexistent/guest.bin"));
    const std::byte bytes[4] = {};
    EXPECT_FALSE(load_image(g->vm(), 0x10000000, bytes));
    EXPECT_FALSE(load_image(g->vm(), kRamSize - 2, bytes));  // runs off the end of RAM

    // A sim VM is not a KVM VM.
    auto caps = std::make_shared<CapabilitySpace>();
    auto sim = Vm::create(BackendKind::sim, caps);
    ASSERT_TRUE(sim);
    EXPECT_EQ(kvm::memslot_usage((*sim)->backend()).code(), Errc::unsupported);
    // KVM here runs x86-64 guests only.
    EXPECT_EQ(kvm::create_backend(Arch::aarch64).code(), Errc::unsupported);
    EXPECT_EQ(Vm::create(BackendKind::kvm, caps, Arch::aarch64).code(), Errc::unsupported);
}

TEST(KvmApi, VmCreateMakesAKvmVm) {
    GUESTMEM_REQUIRE_KVM();
    auto vm = Vm::create(BackendKind::kvm, std::make_shared<CapabilitySpace>());
    ASSERT_TRUE(vm) << vm.error().message;
    EXPECT_EQ((*vm)->backend().kind(), BackendKind::kvm);
    auto usage = kvm::memslot_usage((*vm)->backend());
    ASSERT_TRUE(usage);
    EXPECT_EQ(usage->in_use, 0u);
    EXPECT_GT(usage->limit, 0u);
}

}  // namespace
}  // namespace guestmem::test
