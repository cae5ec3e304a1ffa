// SPDX-License-Identifier: BSD-2-Clause
// The vCPU interface on the sim backend: register files of both
// architectures, Vcpu::boot through the architecture layer (registers, system
// state and the x86-64 tables in guest memory), and what a sim vCPU refuses.
#include <gtest/gtest.h>

#include <cstring>
#include <vector>

#include "guestmem/boot.hpp"
#include "guestmem/guest_memory.hpp"
#include "test_support.hpp"

namespace guestmem::test {
namespace {

constexpr GuestAddr kTables = 0x1000;

/// A sim VM of `arch` with 2 MiB of writable RAM at 0.
struct BootVm : SimVm {
    explicit BootVm(Arch arch) : SimVm(std::make_shared<CapabilitySpace>(), arch) {
        ram = *vm->reserve_at(0, 2 << 20, returns(FaultResult::error));
        std::vector<Cap> frames;
        for (int i = 0; i < 512; ++i) frames.push_back(frame());
        if (!vm->map_frames(ram, frames, kPageBits)) throw std::runtime_error("map RAM");
    }
    std::uint64_t word(GuestAddr addr) { return *read_guest_value<std::uint64_t>(*vm, addr); }
    ReservationId ram;
};

TEST(SimVcpuRegisters, X86RoundTripAndInstructionPointer) {
    SimVm s(std::make_shared<CapabilitySpace>(), Arch::x86_64);
    EXPECT_EQ(s.vcpu->arch(), Arch::x86_64);
    auto initial = s.vcpu->registers();
    ASSERT_TRUE(initial);
    EXPECT_EQ(std::get<X86Registers>(*initial), X86Registers{});
    X86Registers r;
    r.rax = 1, r.rbx = 2, r.r15 = 15, r.rsp = 0x8000, r.rip = 0x1234, r.rflags = 0x202;
    ASSERT_TRUE(s.vcpu->set_registers(r));
    EXPECT_EQ(std::get<X86Registers>(*s.vcpu->registers()), r);
    EXPECT_EQ(s.ip(), 0x1234u);  // sim::instruction_pointer reads the register file
    ASSERT_TRUE(sim::set_instruction_pointer(*s.vcpu, 0x2000));
    EXPECT_EQ(std::get<X86Registers>(*s.vcpu->registers()).rip, 0x2000u);
}

TEST(SimVcpuRegisters, Arm64RoundTripAndAccessesAdvanceThePc) {
    SimVm s(std::make_shared<CapabilitySpace>(), Arch::aarch64);
    EXPECT_EQ(s.vcpu->arch(), Arch::aarch64);
    EXPECT_EQ(s.vm->backend().arch(), Arch::aarch64);
    Arm64Registers r;
    for (std::size_t i = 0; i < r.x.size(); ++i) r.x[i] = 100 + i;
    r.sp = 0x7ff0, r.pc = 0x40000, r.pstate = 0x3c5;
    ASSERT_TRUE(s.vcpu->set_registers(r));
    EXPECT_EQ(std::get<Arm64Registers>(*s.vcpu->registers()), r);
    auto dev = s.vm->reserve_at(0x90000000, 0x1000, returns(FaultResult::handled));
    ASSERT_TRUE(dev);
    ASSERT_TRUE(sim::read(*s.vcpu, 0x90000000, 4));
    EXPECT_EQ(std::get<Arm64Registers>(*s.vcpu->registers()).pc, 0x40000 + sim::kInstructionBytes);
    EXPECT_EQ(s.ip(), 0x40000 + sim::kInstructionBytes);
}

TEST(SimVcpuRegisters, SystemStateRoundTrip) {
    SimVm x86(std::make_shared<CapabilitySpace>(), Arch::x86_64);
    EXPECT_EQ(std::get<X86SystemState>(*x86.vcpu->system_state()), X86SystemState{});
    X86SystemState xs;
    xs.cr0 = 0x80000011, xs.cr3 = 0x5000, xs.efer = 0x500;
    xs.cs.selector = 0x08, xs.cs.l = true, xs.cs.present = true;
    xs.gdt = {0x1000, 0x27};
    ASSERT_TRUE(x86.vcpu->set_system_state(xs));
    EXPECT_EQ(std::get<X86SystemState>(*x86.vcpu->system_state()), xs);

    SimVm arm(std::make_shared<CapabilitySpace>(), Arch::aarch64);
    Arm64SystemState as;
    as.sctlr_el1 = 0x30d00801, as.vbar_el1 = 0x800, as.tpidr_el1 = 7;
    ASSERT_TRUE(arm.vcpu->set_system_state(as));
    EXPECT_EQ(std::get<Arm64SystemState>(*arm.vcpu->system_state()), as);
}

TEST(SimVcpuRegisters, AnotherArchitecturesStateIsRefusedAndChangesNothing) {
    LogCapture log;
    SimVm s(std::make_shared<CapabilitySpace>(), Arch::x86_64);
    X86Registers r;
    r.rip = 0x77;
    ASSERT_TRUE(s.vcpu->set_registers(r));
    EXPECT_EQ(s.vcpu->set_registers(Arm64Registers{}).code(), Errc::invalid_argument);
    EXPECT_EQ(s.vcpu->set_system_state(Arm64SystemState{}).code(), Errc::invalid_argument);
    EXPECT_EQ(std::get<X86Registers>(*s.vcpu->registers()), r);
    EXPECT_EQ(std::get<X86SystemState>(*s.vcpu->system_state()), X86SystemState{});
    EXPECT_TRUE(log.has_error("Vcpu::set_registers", {"aarch64", "x86_64"})) << log.dump();
}

TEST(SimVcpuRegisters, RunIsUnsupportedAndPointsToSimAccesses) {
    LogCapture log;
    SimVm s;
    auto run = s.vcpu->run();
    ASSERT_FALSE(run);
    EXPECT_EQ(run.code(), Errc::unsupported);
    EXPECT_NE(run.error().message.find("sim::read"), std::string::npos) << run.error().message;
}

// The sim backend's port I/O: sim::port_access runs the x86-64 vCPU's port
// handler as a guest's IN or OUT would; AArch64 vCPUs have none.
TEST(SimPortIo, PortAccessRunsTheHandlerAndAdvancesTheInstructionPointer) {
    LogCapture log;
    SimVm s(std::make_shared<CapabilitySpace>(), Arch::x86_64);
    PortAccess access{0x70, 2, false, 0};
    EXPECT_EQ(sim::port_access(*s.vcpu, access).code(), Errc::fault_error);  // no handler yet
    std::vector<PortAccess> seen;
    PortResult answer = PortResult::handled;
    ASSERT_TRUE(s.vcpu->set_port_io_handler([&](PortAccess& a) {
        seen.push_back(a);
        if (!a.is_write) a.data = 0x12345678;
        return answer;
    }));
    const GuestAddr ip = s.ip();
    ASSERT_TRUE(sim::port_access(*s.vcpu, access));
    EXPECT_EQ(access.data, 0x5678u);  // cut to the access size
    EXPECT_EQ(s.ip(), ip + sim::kInstructionBytes);
    PortAccess out{0x71, 1, true, 0x1ff};
    ASSERT_TRUE(sim::port_access(*s.vcpu, out));
    ASSERT_EQ(seen.size(), 2u);
    EXPECT_EQ(seen[1].data, 0xffu);  // the handler sees the written byte only
    answer = PortResult::ignore;
    ASSERT_TRUE(sim::port_access(*s.vcpu, access));
    EXPECT_EQ(access.data, 0u);  // an ignored IN reads 0
    answer = PortResult::error;
    auto failed = sim::port_access(*s.vcpu, access);
    ASSERT_FALSE(failed);
    EXPECT_EQ(failed.code(), Errc::fault_error);
    EXPECT_NE(failed.error().message.find("port 0x70"), std::string::npos) << failed.error().message;
    EXPECT_EQ(s.ip(), ip + 3 * sim::kInstructionBytes);  // the failed access did not complete
    PortAccess odd{0x70, 3, false, 0};
    EXPECT_EQ(sim::port_access(*s.vcpu, odd).code(), Errc::invalid_argument);
}

TEST(SimPortIo, Aarch64HasNoPorts) {
    LogCapture log;
    SimVm s(std::make_shared<CapabilitySpace>(), Arch::aarch64);
    EXPECT_EQ(s.vcpu->set_port_io_handler([](PortAccess&) { return PortResult::handled; }).code(), Errc::unsupported);
    PortAccess access{0x70, 1, false, 0};
    EXPECT_EQ(sim::port_access(*s.vcpu, access).code(), Errc::unsupported);
}

TEST(VcpuBoot, X86LongModeSetsRegistersStateAndWritesTables) {
    BootVm g(Arch::x86_64);
    ASSERT_TRUE(g.vcpu->boot({.entry = 0x10000, .stack = 0x80000, .args = {1, 2, 3, 4}, .x86_tables = kTables}));
    const auto r = std::get<X86Registers>(*g.vcpu->registers());
    EXPECT_EQ(r.rip, 0x10000u);
    EXPECT_EQ(r.rsp, 0x80000u);
    EXPECT_EQ(r.rdi, 1u);
    EXPECT_EQ(r.rsi, 2u);
    EXPECT_EQ(r.rdx, 3u);
    EXPECT_EQ(r.rcx, 4u);
    EXPECT_EQ(r.rax, 0u);
    EXPECT_EQ(r.rflags, 0x2u);  // interrupts off
    const auto s = std::get<X86SystemState>(*g.vcpu->system_state());
    EXPECT_EQ(s.cr0 & 0x80000001u, 0x80000001u);  // PG | PE
    EXPECT_EQ(s.cr3, kTables + 0x1000);           // the PML4
    EXPECT_EQ(s.cr4 & 0x20u, 0x20u);              // PAE
    EXPECT_EQ(s.efer & 0x500u, 0x500u);           // LME | LMA
    EXPECT_TRUE(s.cs.l);
    EXPECT_EQ(s.cs.selector, 0x08);
    EXPECT_EQ(s.ss.selector, 0x10);
    EXPECT_EQ(s.gdt.base, kTables);
    EXPECT_EQ(s.tr.base, kTables + 0x100);
    // The tables are in guest RAM: GDT code descriptor, PML4 -> PDPT, first 2 MiB page.
    EXPECT_EQ(g.word(kTables + 0x08), 0x00af9b000000ffffu);
    EXPECT_EQ(g.word(kTables + 0x1000), kTables + 0x2000 + 0x3);
    EXPECT_EQ(g.word(kTables + 0x3000), 0x83u);
    EXPECT_EQ(x86_boot_tables_size(std::uint64_t{4} << 30), 7 * kPageSize);
}

TEST(VcpuBoot, X86RealMode) {
    BootVm g(Arch::x86_64);
    ASSERT_TRUE(g.vcpu->boot({.entry = 0x10000, .stack = 0xfffe, .args = {0xb000}, .x86_real_mode = true}));
    const auto r = std::get<X86Registers>(*g.vcpu->registers());
    EXPECT_EQ(r.rip, 0u);
    EXPECT_EQ(r.rsp, 0xfffeu);
    EXPECT_EQ(r.rdi, 0xb000u);
    const auto s = std::get<X86SystemState>(*g.vcpu->system_state());
    EXPECT_EQ(s.cs.selector, 0x1000);
    EXPECT_EQ(s.cs.base, 0x10000u);
    EXPECT_EQ(s.ss.base, 0x10000u);
    EXPECT_EQ(s.cr0 & 1u, 0u);
    EXPECT_EQ(s.efer, 0u);
    EXPECT_EQ(g.word(kTables), 0u);  // no tables in real mode
}

TEST(VcpuBoot, Aarch64El1WithTheMmuOff) {
    BootVm g(Arch::aarch64);
    ASSERT_TRUE(g.vcpu->boot({.entry = 0x100000, .stack = 0x80000, .args = {5, 6, 7, 8}}));
    const auto r = std::get<Arm64Registers>(*g.vcpu->registers());
    EXPECT_EQ(r.pc, 0x100000u);
    EXPECT_EQ(r.sp, 0x80000u);
    EXPECT_EQ(r.x[0], 5u);
    EXPECT_EQ(r.x[1], 6u);
    EXPECT_EQ(r.x[2], 7u);
    EXPECT_EQ(r.x[3], 8u);
    EXPECT_EQ(r.x[4], 0u);
    EXPECT_EQ(r.x[30], 0u);
    EXPECT_EQ(r.pstate & 0xfu, 0x5u);      // EL1h: EL1 using SP_EL1
    EXPECT_EQ(r.pstate & 0x3c0u, 0x3c0u);  // D, A, I, F masked
    const auto s = std::get<Arm64SystemState>(*g.vcpu->system_state());
    EXPECT_EQ(s.sctlr_el1 & 1u, 0u);  // M: the MMU is off
    EXPECT_EQ(s.sctlr_el1, Arm64SystemState{}.sctlr_el1);
    EXPECT_EQ(g.word(kTables), 0u);  // nothing written to guest memory
}

TEST(VcpuBoot, RejectsWhatItCannotDoAndChangesNothing) {
    LogCapture log;
    BootVm x86(Arch::x86_64);
    X86Registers before;
    before.rip = 0x99;
    ASSERT_TRUE(x86.vcpu->set_registers(before));
    const auto boot = [&](const BootSpec& spec) { return x86.vcpu->boot(spec).code(); };
    EXPECT_EQ(boot({.entry = 0x10000, .x86_tables = 0x1800}), Errc::invalid_argument);  // tables unaligned
    EXPECT_EQ(boot({.entry = 0x10000, .x86_tables = kTables, .identity_bytes = 3 << 29}), Errc::invalid_argument);
    EXPECT_EQ(boot({.entry = std::uint64_t{5} << 30, .x86_tables = kTables}), Errc::invalid_argument);  // not mapped
    EXPECT_EQ(boot({.entry = 0x10000, .x86_tables = 0x10000000}), Errc::not_mapped);      // tables not in RAM
    EXPECT_EQ(boot({.entry = 0x10008, .x86_real_mode = true}), Errc::invalid_argument);   // unaligned
    EXPECT_EQ(boot({.entry = 0x100000, .x86_real_mode = true}), Errc::invalid_argument);  // above 1 MiB
    EXPECT_EQ(boot({.entry = 0x10000, .stack = 0x10000, .x86_real_mode = true}), Errc::invalid_argument);
    EXPECT_EQ(std::get<X86Registers>(*x86.vcpu->registers()), before);
    // Tables in read-only memory: the CPU could not set accessed bits there.
    auto rom = x86.vm->reserve_at(0x400000, 0x10000, returns(FaultResult::error));
    ASSERT_TRUE(rom);
    std::vector<Cap> frames;
    for (int i = 0; i < 16; ++i) frames.push_back(x86.frame());
    ASSERT_TRUE(x86.vm->map(*rom, [&](GuestAddr addr) {
        return FrameRequest{frames[(addr - 0x400000) / kPageSize], Rights::read, addr, kPageBits};
    }));
    EXPECT_EQ(boot({.entry = 0x10000, .x86_tables = 0x400000}), Errc::permission_denied);

    BootVm arm(Arch::aarch64);
    const auto arm_boot = [&](const BootSpec& spec) { return arm.vcpu->boot(spec).code(); };
    EXPECT_EQ(arm_boot({.entry = 0x100000, .x86_real_mode = true}), Errc::invalid_argument);
    EXPECT_EQ(arm_boot({.entry = 0x100002, .stack = 0x80000}), Errc::invalid_argument);
    EXPECT_EQ(arm_boot({.entry = 0x100000, .stack = 0x80008}), Errc::invalid_argument);
    EXPECT_EQ(std::get<Arm64Registers>(*arm.vcpu->registers()), Arm64Registers{});
    EXPECT_TRUE(log.has_error("Vcpu::boot", {"real mode"})) << log.dump();
}

TEST(VcpuRequestExit, OutsideARunItIsForgottenByTheNextRun) {
    // request_exit belongs to a run; on the sim backend, which has none, the
    // next run() still fails with Errc::unsupported, not StopReason::exited.
    LogCapture log;
    SimVm s;
    s.vcpu->request_exit(5);
    auto run = s.vcpu->run();
    ASSERT_FALSE(run);
    EXPECT_EQ(run.code(), Errc::unsupported);
}

}  // namespace
}  // namespace guestmem::test
