// SPDX-License-Identifier: BSD-2-Clause
// Guest code on the emulator: RAM at native speed, halting, registers, traps, port I/O.
#include <gtest/gtest.h>

#include "emu_test_support.hpp"
#include "guestmem/guest_memory.hpp"

namespace guestmem::emu::test {
namespace {

class EmuCpu : public ::testing::TestWithParam<Arch> {};

TEST_P(EmuCpu, GuestFillsAndSumsRamWithoutExits) {
    EmuVm emu(GetParam());
    EMU_LOAD_OR_SKIP(emu, "ram_sum");
    constexpr std::uint64_t count = 4096;  // 32 KiB across 8 frames
    emu.start(*emu.vcpu, kCode, {kData, count, 0});
    auto result = emu.vcpu->run();
    ASSERT_TRUE(result) << result.error().message;
    EXPECT_EQ(result->reason, StopReason::halted) << result->message;
    EXPECT_EQ(result->exits.mmio, 0u);  // every access hit RAM directly
    EXPECT_EQ(emu.result(*emu.vcpu), 3 * count * (count - 1) / 2);
    auto last = read_guest_value<std::uint64_t>(*emu.vm, kData + 8 * (count - 1));
    ASSERT_TRUE(last);
    EXPECT_EQ(*last, 3 * (count - 1));  // the VMM sees what the guest wrote
}

TEST_P(EmuCpu, HaltStopsTheRunAfterTheInstruction) {
    EmuVm emu(GetParam());
    EMU_LOAD_OR_SKIP(emu, "access");
    emu.start(*emu.vcpu, kCode, {kData, 0, 4});  // a 1-byte load from RAM, then hlt / wfi
    auto result = emu.vcpu->run();
    ASSERT_TRUE(result);
    EXPECT_TRUE(result->halted()) << result->message;
    EXPECT_GT(result->ip, kCode);
    EXPECT_EQ(result->ip, instruction_pointer_of(*emu.vcpu->registers()));
}

TEST_P(EmuCpu, RegistersRoundTrip) {
    EmuVm emu(GetParam());
    if (GetParam() == Arch::x86_64) {
        X86Registers r;
        std::uint64_t v = 0x1111;
        for (auto* f : {&r.rax, &r.rbx, &r.rcx, &r.rdx, &r.rsi, &r.rdi, &r.rsp, &r.rbp, &r.r8, &r.r9, &r.r10, &r.r11,
                        &r.r12, &r.r13, &r.r14, &r.r15}) {
            *f = v;
            v += 0x10101;
        }
        r.rip = 0x2345;
        r.rflags = 0x202;
        ASSERT_TRUE(emu.vcpu->set_registers(r));
        auto back = emu.vcpu->registers();
        ASSERT_TRUE(back);
        EXPECT_EQ(std::get<X86Registers>(*back), r);
    } else {
        Arm64Registers r;
        for (std::size_t i = 0; i < r.x.size(); ++i) r.x[i] = 0x1000 + 7 * i;
        r.sp = 0x7ff0;
        r.pc = 0x2344;
        r.pstate = 0x3c5;
        ASSERT_TRUE(emu.vcpu->set_registers(r));
        auto back = emu.vcpu->registers();
        ASSERT_TRUE(back);
        EXPECT_EQ(std::get<Arm64Registers>(*back), r);
    }
}

TEST_P(EmuCpu, RegistersOfTheOtherArchitectureAreRefused) {
    EmuVm emu(GetParam());
    const Registers other = GetParam() == Arch::x86_64 ? Registers{Arm64Registers{}} : Registers{X86Registers{}};
    auto set = emu.vcpu->set_registers(other);
    ASSERT_FALSE(set);
    EXPECT_EQ(set.code(), Errc::invalid_argument);
}

TEST_P(EmuCpu, SystemStateRoundTrips) {
    EmuVm emu(GetParam());
    emu.start(*emu.vcpu, kCode, {0, 0, 0});
    auto state = emu.vcpu->system_state();
    ASSERT_TRUE(state);
    if (GetParam() == Arch::aarch64) {
        Arm64SystemState s;
        s.vbar_el1 = 0x8000;
        s.tpidr_el1 = 0x1234;
        ASSERT_TRUE(emu.vcpu->set_system_state(s));
        auto back = emu.vcpu->system_state();
        ASSERT_TRUE(back);
        EXPECT_EQ(std::get<Arm64SystemState>(*back).vbar_el1, 0x8000u);
        EXPECT_EQ(std::get<Arm64SystemState>(*back).tpidr_el1, 0x1234u);
        EXPECT_EQ(std::get<Arm64SystemState>(*back).sctlr_el1 & 1, 0u);  // MMU off
    } else {
        EXPECT_EQ(std::get<X86SystemState>(*state).efer, 0x500u);
        EXPECT_TRUE(std::get<X86SystemState>(*state).cs.l);
    }
}

TEST(EmuCpuX86, RealModeIsUnsupported) {
    EmuVm emu(Arch::x86_64);
    auto set = emu.vcpu->set_system_state(X86SystemState{});  // reset state: real mode
    ASSERT_FALSE(set);
    EXPECT_EQ(set.code(), Errc::unsupported);
}

TEST_P(EmuCpu, InvalidInstructionIsAnException) {
    EmuVm emu(GetParam());
    EMU_LOAD_OR_SKIP(emu, "invalid");
    emu.start(*emu.vcpu, kCode, {0, 0, 0});
    auto result = emu.vcpu->run();
    ASSERT_TRUE(result);
    EXPECT_EQ(result->reason, StopReason::exception);
    EXPECT_FALSE(result->message.empty());
}

TEST_P(EmuCpu, BreakpointIsAnExceptionNamingIt) {
    EmuVm emu(GetParam());
    EMU_LOAD_OR_SKIP(emu, "breakpoint");
    emu.start(*emu.vcpu, kCode, {0, 0, 0});
    auto result = emu.vcpu->run();
    ASSERT_TRUE(result);
    EXPECT_EQ(result->reason, StopReason::exception);
    EXPECT_NE(result->message.find(GetParam() == Arch::aarch64 ? "brk" : "vector 3"), std::string::npos)
        << result->message;
}

// The emulated CPU has no EL2: hvc at EL1 is an undefined instruction, as on
// hardware without EL2.
TEST(EmuCpuArm64, HypervisorCallIsAnException) {
    EmuVm emu(Arch::aarch64);
    EMU_LOAD_OR_SKIP(emu, "hypercall");
    emu.start(*emu.vcpu, kCode, {0, 0, 0});
    auto result = emu.vcpu->run();
    ASSERT_TRUE(result);
    EXPECT_EQ(result->reason, StopReason::exception);
    EXPECT_NE(result->message.find("undefined instruction"), std::string::npos) << result->message;
    EXPECT_EQ(result->ip, kCode);
}

TEST_P(EmuCpu, CodeOutsideRamIsAnException) {
    EmuVm emu(GetParam());
    emu.start(*emu.vcpu, 0x40000000, {0, 0, 0});  // nothing there
    auto result = emu.vcpu->run();
    ASSERT_TRUE(result);
    EXPECT_EQ(result->reason, StopReason::exception) << result->message;
}

TEST(EmuCpuX86, PortIoReachesTheHandler) {
    EmuVm emu(Arch::x86_64);
    EMU_LOAD_OR_SKIP(emu, "ports");
    std::vector<PortAccess> seen;
    ASSERT_TRUE(emu.vcpu->set_port_io_handler([&](PortAccess& access) {
        seen.push_back(access);
        if (!access.is_write) access.data = 0x5a;
        return PortResult::handled;
    }));
    emu.start(*emu.vcpu, kCode, {0, 0, 0});
    auto result = emu.vcpu->run();
    ASSERT_TRUE(result);
    EXPECT_TRUE(result->halted()) << result->message;
    ASSERT_EQ(seen.size(), 2u);
    EXPECT_TRUE(seen[0].is_write);
    EXPECT_EQ(seen[0].port, 0x80);
    EXPECT_EQ(seen[0].size, 1);
    EXPECT_EQ(seen[0].data, 0x41u);
    EXPECT_FALSE(seen[1].is_write);
    EXPECT_EQ(seen[1].port, 0x81);
    EXPECT_EQ(emu.result(*emu.vcpu) & 0xff, 0x5au);
    EXPECT_EQ(result->exits.port_io, 2u);
}

TEST(EmuCpuX86, PortIoWithoutHandlerStopsTheRun) {
    EmuVm emu(Arch::x86_64);
    EMU_LOAD_OR_SKIP(emu, "ports");
    emu.start(*emu.vcpu, kCode, {0, 0, 0});
    auto result = emu.vcpu->run();
    ASSERT_TRUE(result);
    EXPECT_EQ(result->reason, StopReason::port_io_error);
    ASSERT_TRUE(result->port);
    EXPECT_EQ(result->port->port, 0x80);
}

TEST(EmuCpuArm64, PortIoIsUnsupported) {
    EmuVm emu(Arch::aarch64);
    auto set = emu.vcpu->set_port_io_handler([](PortAccess&) { return PortResult::handled; });
    ASSERT_FALSE(set);
    EXPECT_EQ(set.code(), Errc::unsupported);
}

TEST_P(EmuCpu, BackendSaysWhatItIs) {
    EmuVm emu(GetParam());
    EXPECT_EQ(emu.vm->backend().kind(), BackendKind::emu);
    EXPECT_EQ(emu.vm->backend().arch(), GetParam());
    EXPECT_EQ(emu.vcpu->arch(), GetParam());
    EXPECT_TRUE(usable(GetParam()));
}

INSTANTIATE_TEST_SUITE_P(Arches, EmuCpu, ::testing::ValuesIn(kArches), arch_name);

}  // namespace
}  // namespace guestmem::emu::test

namespace guestmem::emu::test {
namespace {

TEST_P(EmuCpu, CodeTheVmmRewritesBetweenRunsIsTranslatedAgain) {
    EmuVm emu(GetParam());
    EMU_LOAD_OR_SKIP(emu, "access");
    emu.start(*emu.vcpu, kCode, {kData, 0, 4});
    auto first = emu.vcpu->run();
    ASSERT_TRUE(first);
    ASSERT_TRUE(first->halted()) << first->message;
    // The same address now holds another program.
    EMU_LOAD_OR_SKIP(emu, "ram_sum");
    emu.start(*emu.vcpu, kCode, {kData, 10, 0});
    auto second = emu.vcpu->run();
    ASSERT_TRUE(second);
    EXPECT_TRUE(second->halted()) << second->message;
    EXPECT_EQ(emu.result(*emu.vcpu), 3u * 10 * 9 / 2);
}

TEST_P(EmuCpu, CodeInAnEmulatedPageIsAnException) {
    EmuVm emu(GetParam());
    EMU_LOAD_OR_SKIP(emu, "access");
    std::size_t reads = 0;
    ASSERT_TRUE(emu.vm->reserve_at(kDevice, 0x1000, [&](Fault& fault) {
        ++reads;
        fault.set_data(0);
        return FaultResult::handled;
    }));
    emu.start(*emu.vcpu, kCode, {kDevice, 0, 4});  // maps the device's page
    ASSERT_TRUE(emu.vcpu->run());
    emu.start(*emu.vcpu, kDevice, {0, 0, 0});
    auto result = emu.vcpu->run();
    ASSERT_TRUE(result);
    EXPECT_EQ(result->reason, StopReason::exception) << result->message;
    EXPECT_EQ(reads, 1u);  // the fetch does not reach the device
}

}  // namespace
}  // namespace guestmem::emu::test
