// SPDX-License-Identifier: BSD-2-Clause
// The vCPU interface on KVM: registers and system state through
// KVM_GET/SET_REGS and _SREGS, and the boot state Vcpu::boot leaves there.
#include <gtest/gtest.h>

#include "kvm_test_support.hpp"

namespace guestmem::test {
namespace {

TEST(KvmVcpuState, RegistersRoundTrip) {
    GUESTMEM_REQUIRE_KVM();
    auto g = GuestVm::create(BackendKind::kvm);
    ASSERT_TRUE(g);
    auto vcpu = g->vm().create_vcpu();
    ASSERT_TRUE(vcpu);
    EXPECT_EQ((*vcpu)->arch(), Arch::x86_64);
    X86Registers r;
    r.rax = 0x1111, r.rbx = 0x2222, r.rcx = 3, r.rdx = 4, r.rsi = 5, r.rdi = 6, r.rsp = 0x7ff0, r.rbp = 8;
    r.r8 = 9, r.r9 = 10, r.r10 = 11, r.r11 = 12, r.r12 = 13, r.r13 = 14, r.r14 = 15, r.r15 = 0xffffffffffffffff;
    r.rip = 0x10000, r.rflags = 0x2;
    ASSERT_TRUE((*vcpu)->set_registers(r));
    EXPECT_EQ(x86_registers(**vcpu), r);
    EXPECT_EQ((*vcpu)->backend().instruction_pointer(), 0x10000u);
}

TEST(KvmVcpuState, SystemStateRoundTripsWhatBootSets) {
    GUESTMEM_REQUIRE_KVM();
    auto g = GuestVm::create(BackendKind::kvm);
    ASSERT_TRUE(g);
    Vcpu& vcpu = g->add_vcpu({7, 8, 9, 10});
    const auto regs = x86_registers(vcpu);
    EXPECT_EQ(regs.rip, kImage);
    EXPECT_EQ(regs.rsp, kStackTop);
    EXPECT_EQ(regs.rdi, 7u);
    EXPECT_EQ(regs.rcx, 10u);
    auto state = vcpu.system_state();
    ASSERT_TRUE(state);
    const auto& s = std::get<X86SystemState>(*state);
    EXPECT_EQ(s.cr3, kTables + 0x1000);
    EXPECT_EQ(s.cr0 & 0x80000001u, 0x80000001u);
    EXPECT_EQ(s.efer & 0x500u, 0x500u);
    EXPECT_TRUE(s.cs.l);
    EXPECT_TRUE(s.cs.present);
    EXPECT_EQ(s.cs.selector, 0x08);
    EXPECT_EQ(s.gdt.base, kTables);
    EXPECT_EQ(s.gdt.limit, 0x27);
    EXPECT_EQ(s.tr.base, kTables + 0x100);

    // What was read back is accepted again, and reads back the same.
    X86SystemState changed = s;
    changed.cr3 = kTables + 0x1000;  // same tables, re-set
    changed.gdt.limit = 0x1f;
    ASSERT_TRUE(vcpu.set_system_state(changed));
    EXPECT_EQ(std::get<X86SystemState>(*vcpu.system_state()), changed);
}

TEST(KvmVcpuState, RealModeBootPutsSegmentsAtTheEntry) {
    GUESTMEM_REQUIRE_KVM();
    auto g = GuestVm::create(BackendKind::kvm, nullptr, 0x80000);
    ASSERT_TRUE(g);
    auto vcpu = g->vm().create_vcpu();
    ASSERT_TRUE(vcpu);
    ASSERT_TRUE((*vcpu)->boot({.entry = 0x20000, .stack = 0x1000, .x86_real_mode = true}));
    const auto s = std::get<X86SystemState>(*(*vcpu)->system_state());
    EXPECT_EQ(s.cs.selector, 0x2000);
    EXPECT_EQ(s.cs.base, 0x20000u);
    EXPECT_EQ(s.cr0 & 1u, 0u);
    EXPECT_EQ(x86_registers(**vcpu).rip, 0u);
    EXPECT_EQ(x86_registers(**vcpu).rsp, 0x1000u);
}

}  // namespace
}  // namespace guestmem::test
