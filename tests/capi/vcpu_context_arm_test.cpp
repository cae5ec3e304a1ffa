// SPDX-License-Identifier: BSD-2-Clause
// <sel4vm/arch/guest_arm_context.h> on every backend that runs AArch64
// guests here (sim, emu; KVM runs the host's x86-64 only): thread context
// and system register round trips, a guest computing with registers the VMM
// set, and every refusal (NULL, destroyed, wrong architecture, bad index,
// registers not held, running vCPU).
#include <gtest/gtest.h>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <thread>

#include "arch_guest_support.hpp"
#include "capi_support.hpp"
#include "sel4vm/arch/guest_arm_context.h"
#include "sel4vm/sel4_arch/processor.h"

namespace guestmem::test {
namespace {

/// seL4_UserContext's register index of a member: its word offset.
#define USER_REG(member) static_cast<unsigned>(offsetof(seL4_UserContext, member) / sizeof(seL4_Word))

/// EL1h with D, A, I and F masked: how vcpu_boot starts an AArch64 guest.
constexpr seL4_Word kEl1hMasked = 0x3c0 | PMODE_EL1h;

class ArmContext : public ::testing::TestWithParam<ArchCase> {
protected:
    void SetUp() override {
        if (const std::string why = unavailable(GetParam().backend); !why.empty()) GTEST_SKIP() << why;
        guest = std::make_unique<ArchGuest>(GetParam().backend, VM_ARCH_AARCH64);
        ASSERT_TRUE(guest->ok()) << log.dump();
        vcpu = guest->vcpu;
    }

    CLogCapture log;
    std::unique_ptr<ArchGuest> guest;
    vm_vcpu_t* vcpu = nullptr;
};

/// The tests that run guest code: on the backends that run it.
class ArmContextRun : public ArmContext {};

seL4_UserContext numbered_context() {
    seL4_UserContext c;
    std::memset(&c, 0, sizeof c);
    c.pc = 0x20000;
    c.sp = 0x70000;
    c.spsr = kEl1hMasked;
    seL4_Word* words = &c.pc;
    for (unsigned i = USER_REG(x0); i <= USER_REG(x28); ++i) words[i] = 0x0101010100000000ull * i + i;
    return c;
}

TEST_P(ArmContext, TheRegisterIndexIsTheMembersWordOffset) {
    EXPECT_EQ(USER_REG(pc), 0u);
    EXPECT_EQ(USER_REG(sp), 1u);
    EXPECT_EQ(USER_REG(spsr), 2u);
    EXPECT_EQ(USER_REG(x0), 3u);
    EXPECT_EQ(USER_REG(x8), 11u);
    EXPECT_EQ(USER_REG(x16), 12u);
    EXPECT_EQ(USER_REG(x30), 16u);
    EXPECT_EQ(USER_REG(x9), 17u);
    EXPECT_EQ(USER_REG(x28), 33u);
    EXPECT_EQ(USER_REG(tpidrro_el0), 35u);
    EXPECT_EQ(sizeof(seL4_UserContext), 36 * sizeof(seL4_Word));
}

TEST_P(ArmContext, ThreadContextRoundTrips) {
    const seL4_UserContext set = numbered_context();
    ASSERT_EQ(vm_set_thread_context(vcpu, set), 0) << log.dump();
    seL4_UserContext got;
    std::memset(&got, 0xee, sizeof got);
    ASSERT_EQ(vm_get_thread_context(vcpu, &got), 0) << log.dump();
    EXPECT_EQ(std::memcmp(&set, &got, sizeof set), 0);
    EXPECT_EQ(got.tpidr_el0, 0u);
    EXPECT_EQ(got.tpidrro_el0, 0u);

    // Register by register, by index: x17 is word 13, x19 word 24.
    ASSERT_EQ(vm_set_thread_context_reg(vcpu, USER_REG(x17), 0x1717), 0) << log.dump();
    ASSERT_EQ(vm_set_thread_context_reg(vcpu, USER_REG(x19), 0x1919), 0);
    ASSERT_EQ(vm_set_thread_context_reg(vcpu, USER_REG(pc), 0x30000), 0);
    ASSERT_EQ(vm_get_thread_context(vcpu, &got), 0);
    EXPECT_EQ(got.x17, 0x1717u);
    EXPECT_EQ(got.x19, 0x1919u);
    EXPECT_EQ(got.pc, 0x30000u);
    uintptr_t value = 0;
    ASSERT_EQ(vm_get_thread_context_reg(vcpu, USER_REG(x30), &value), 0);
    EXPECT_EQ(value, set.x30);
    ASSERT_EQ(vm_get_thread_context_reg(vcpu, USER_REG(spsr), &value), 0);
    EXPECT_EQ(value, kEl1hMasked);
}

TEST_P(ArmContext, ThreadIdRegistersAreNotHeld) {
    seL4_UserContext context = numbered_context();
    ASSERT_EQ(vm_set_thread_context(vcpu, context), 0);
    seL4_UserContext other = numbered_context();
    other.x0 = 0xdead;
    other.tpidr_el0 = 5;
    EXPECT_EQ(vm_set_thread_context(vcpu, other), -1);
    EXPECT_TRUE(log.has_error("vm_arm_set_thread_context", "tpidr_el0")) << log.dump();
    uintptr_t value = 1;
    EXPECT_EQ(vm_get_thread_context_reg(vcpu, USER_REG(tpidrro_el0), &value), -1);
    EXPECT_EQ(vm_set_thread_context_reg(vcpu, USER_REG(tpidr_el0), 0), -1);
    EXPECT_TRUE(log.has_error("vm_arm_set_thread_context_reg", "tpidr_el0")) << log.dump();
    EXPECT_EQ(value, 1u);
    ASSERT_EQ(vm_get_thread_context_reg(vcpu, USER_REG(x0), &value), 0);
    EXPECT_EQ(value, context.x0);  // nothing changed
}

TEST_P(ArmContext, SystemRegistersRoundTrip) {
    uintptr_t sctlr = 0;
    ASSERT_EQ(vm_get_arm_vcpu_reg(vcpu, seL4_VCPUReg_SCTLR, &sctlr), 0) << log.dump();
    EXPECT_EQ(sctlr & 1, 0u) << "vcpu_boot starts with the MMU off";
    ASSERT_EQ(vm_set_arm_vcpu_reg(vcpu, seL4_VCPUReg_SCTLR, sctlr), 0) << log.dump();
    ASSERT_EQ(vm_set_arm_vcpu_reg(vcpu, seL4_VCPUReg_VBAR, 0x40800), 0) << log.dump();
    ASSERT_EQ(vm_set_arm_vcpu_reg(vcpu, seL4_VCPUReg_TPIDR_EL1, 0x123456789abcull), 0) << log.dump();
    uintptr_t value = 0;
    ASSERT_EQ(vm_get_arm_vcpu_reg(vcpu, seL4_VCPUReg_VBAR, &value), 0);
    EXPECT_EQ(value, 0x40800u);
    ASSERT_EQ(vm_get_arm_vcpu_reg(vcpu, seL4_VCPUReg_TPIDR_EL1, &value), 0);
    EXPECT_EQ(value, 0x123456789abcull);
    ASSERT_EQ(vm_get_arm_vcpu_reg(vcpu, seL4_VCPUReg_SCTLR, &value), 0);
    EXPECT_EQ(value, sctlr);
}

TEST_P(ArmContext, SystemRegistersNotHeldAreRefusedByName) {
    uintptr_t value = 4;
    EXPECT_EQ(vm_get_arm_vcpu_reg(vcpu, seL4_VCPUReg_TTBR0, &value), -1);
    EXPECT_TRUE(log.has_error("vm_get_arm_vcpu_reg", "seL4_VCPUReg_TTBR0 (1)")) << log.dump();
    EXPECT_EQ(vm_set_arm_vcpu_reg(vcpu, seL4_VCPUReg_CNTKCTL_EL1, 0), -1);
    EXPECT_TRUE(log.has_error("vm_set_arm_vcpu_reg", "seL4_VCPUReg_CNTKCTL_EL1 (23)")) << log.dump();
    EXPECT_EQ(vm_set_arm_vcpu_reg(vcpu, seL4_VCPUReg_Num, 0), -1);
    EXPECT_TRUE(log.has_error("vm_set_arm_vcpu_reg", "not an seL4_VCPUReg")) << log.dump();
    EXPECT_EQ(vm_get_arm_vcpu_reg(vcpu, seL4_VCPUReg_VBAR, nullptr), -1);
    EXPECT_EQ(value, 4u);
}

TEST_P(ArmContext, RefusesBadArguments) {
    uintptr_t value = 6;
    EXPECT_EQ(vm_set_thread_context(nullptr, numbered_context()), -1);
    EXPECT_TRUE(log.has_error("vm_arm_set_thread_context", "vcpu is NULL")) << log.dump();
    EXPECT_EQ(vm_get_thread_context(vcpu, nullptr), -1);
    EXPECT_EQ(vm_get_thread_context_reg(vcpu, USER_REG(x0), nullptr), -1);
    EXPECT_EQ(vm_set_thread_context_reg(vcpu, 36, 1), -1);
    EXPECT_TRUE(log.has_error("vm_arm_set_thread_context_reg", "past seL4_UserContext")) << log.dump();
    EXPECT_EQ(vm_get_thread_context_reg(vcpu, 1000, &value), -1);
    auto* forged = reinterpret_cast<vm_vcpu_t*>(static_cast<std::uintptr_t>(0x20));
    EXPECT_EQ(vm_get_arm_vcpu_reg(forged, seL4_VCPUReg_VBAR, &value), -1);
    EXPECT_TRUE(log.has_error("vm_get_arm_vcpu_reg", "not a live vCPU handle")) << log.dump();
    EXPECT_EQ(value, 6u);

    vm_vcpu_t* stale = vcpu;
    vm_destroy(guest->vm);
    guest->vm = nullptr;
    EXPECT_EQ(vm_set_thread_context_reg(stale, USER_REG(x0), 1), -1);
    EXPECT_EQ(vm_set_arm_vcpu_reg(stale, seL4_VCPUReg_VBAR, 0), -1);
    EXPECT_TRUE(log.has_error("vm_set_arm_vcpu_reg", "not a live vCPU handle")) << log.dump();
}

/// The guest adds x1 and x2 into x0 and waits for an interrupt (a halt).
TEST_P(ArmContextRun, AGuestComputesWithTheRegistersSet) {
    ASSERT_TRUE(guest->code32({
        0x8b020020,  // add x0, x1, x2
        0xd503207f,  // wfi
    }));
    ASSERT_EQ(vm_set_thread_context_reg(vcpu, USER_REG(x1), 0x4000000000ull), 0);
    ASSERT_EQ(vm_set_thread_context_reg(vcpu, USER_REG(x2), 0x42), 0);
    vm_run_result_t result{};
    ASSERT_EQ(vcpu_run(vcpu, &result), 0) << result.message << log.dump();
    EXPECT_EQ(result.reason, VM_STOP_HALTED);
    seL4_UserContext context;
    ASSERT_EQ(vm_get_thread_context(vcpu, &context), 0);
    EXPECT_EQ(context.x0, 0x4000000042ull);
    EXPECT_GE(context.pc, ArchGuest::kEntry + 4);  // at or past the wfi
    EXPECT_LE(context.pc, ArchGuest::kEntry + 8);
    EXPECT_EQ(context.spsr & 0xf, static_cast<seL4_Word>(PMODE_EL1h));
}

struct Rendezvous {
    std::atomic<bool> in_callback{false};
    std::atomic<bool> release{false};
    int own_get = -2;
    int own_set = -2;
    uintptr_t own_x0 = 0;
};

memory_fault_result_t wait_in_fault(vm_t*, vm_vcpu_t* vcpu, uintptr_t, size_t, void* cookie) {
    auto* r = static_cast<Rendezvous*>(cookie);
    // From the vCPU's own fault callback: reading works, writing does not.
    r->own_get = vm_get_thread_context_reg(vcpu, USER_REG(x0), &r->own_x0);
    r->own_set = vm_set_thread_context_reg(vcpu, USER_REG(x3), 1);
    r->in_callback = true;
    while (!r->release) std::this_thread::yield();
    return FAULT_HANDLED;
}

TEST_P(ArmContextRun, ARunningVcpuIsRefusedExceptForReadsFromItsOwnCallbacks) {
    constexpr uintptr_t kDevice = 0x1000000;  // past RAM
    ASSERT_TRUE(guest->code32({
        0xf9000020,  // str x0, [x1]
        0xd503207f,  // wfi
    }));
    Rendezvous r;
    ASSERT_NE(vm_reserve_memory_at(guest->vm, kDevice, 0x1000, &wait_in_fault, &r), nullptr) << log.dump();
    ASSERT_EQ(vm_set_thread_context_reg(vcpu, USER_REG(x0), 0x77), 0);
    ASSERT_EQ(vm_set_thread_context_reg(vcpu, USER_REG(x1), kDevice), 0);
    vm_run_result_t result{};
    int rc = -2;
    std::thread runner([&] { rc = vcpu_run(vcpu, &result); });
    while (!r.in_callback) std::this_thread::yield();
    uintptr_t value = 3;
    EXPECT_EQ(vm_get_thread_context_reg(vcpu, USER_REG(x0), &value), -1);
    EXPECT_TRUE(log.has_error("vm_arm_get_thread_context_reg", "is running")) << log.dump();
    EXPECT_EQ(vm_set_arm_vcpu_reg(vcpu, seL4_VCPUReg_VBAR, 0), -1);
    EXPECT_EQ(vm_get_arm_vcpu_reg(vcpu, seL4_VCPUReg_VBAR, &value), -1);
    EXPECT_EQ(value, 3u);
    r.release = true;
    runner.join();
    EXPECT_EQ(rc, 0) << result.message;
    EXPECT_EQ(r.own_get, 0);
    EXPECT_EQ(r.own_x0, 0x77u);
    EXPECT_EQ(r.own_set, -1);
    EXPECT_TRUE(log.has_error("vm_arm_set_thread_context_reg", "in the middle of the access")) << log.dump();
    ASSERT_EQ(vm_get_thread_context_reg(vcpu, USER_REG(x3), &value), 0);
    EXPECT_EQ(value, 0u);
}

INSTANTIATE_TEST_SUITE_P(Backends, ArmContextRun, ::testing::Values(ArchCase{VM_BACKEND_EMU, VM_ARCH_AARCH64, "emu"}),
                         case_name);
INSTANTIATE_TEST_SUITE_P(Backends, ArmContext,
                         ::testing::Values(ArchCase{VM_BACKEND_SIM, VM_ARCH_AARCH64, "sim"},
                                           ArchCase{VM_BACKEND_EMU, VM_ARCH_AARCH64, "emu"}),
                         case_name);

/// The AArch64 functions refuse a vCPU of an x86-64 VM, naming the header to use.
class ArmContextOnX86 : public ::testing::TestWithParam<ArchCase> {};

TEST_P(ArmContextOnX86, EveryFunctionRefusesTheVcpu) {
    if (const std::string why = unavailable(GetParam().backend); !why.empty()) GTEST_SKIP() << why;
    CLogCapture log;
    ArchGuest guest(GetParam().backend, VM_ARCH_X86_64);
    ASSERT_TRUE(guest.ok()) << log.dump();
    seL4_UserContext context{};
    uintptr_t value = 8;
    EXPECT_EQ(vm_set_thread_context(guest.vcpu, context), -1);
    EXPECT_EQ(vm_get_thread_context(guest.vcpu, &context), -1);
    EXPECT_EQ(vm_set_thread_context_reg(guest.vcpu, USER_REG(x0), 1), -1);
    EXPECT_EQ(vm_get_thread_context_reg(guest.vcpu, USER_REG(x0), &value), -1);
    EXPECT_EQ(vm_set_arm_vcpu_reg(guest.vcpu, seL4_VCPUReg_VBAR, 0), -1);
    EXPECT_EQ(vm_get_arm_vcpu_reg(guest.vcpu, seL4_VCPUReg_VBAR, &value), -1);
    EXPECT_EQ(value, 8u);
    EXPECT_TRUE(log.has_error("vm_arm_get_thread_context", "guest_x86_context.h")) << log.dump();
    EXPECT_TRUE(log.has_error("vm_get_arm_vcpu_reg", "x86-64")) << log.dump();
}

INSTANTIATE_TEST_SUITE_P(Backends, ArmContextOnX86,
                         ::testing::Values(ArchCase{VM_BACKEND_SIM, VM_ARCH_X86_64, "sim"},
                                           ArchCase{VM_BACKEND_EMU, VM_ARCH_X86_64, "emu"},
                                           ArchCase{VM_BACKEND_KVM, VM_ARCH_X86_64, "kvm"}),
                         case_name);

}  // namespace
}  // namespace guestmem::test
