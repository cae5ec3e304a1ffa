// SPDX-License-Identifier: BSD-2-Clause
// <sel4vm/arch/guest_x86_context.h> on every backend that runs x86-64
// guests (sim, emu, kvm): thread context and VMCS field round trips, a guest
// computing with registers the VMM set, and every refusal (NULL, destroyed,
// wrong architecture, bad index or field, running vCPU).
#include <gtest/gtest.h>

#include <atomic>
#include <cstdint>
#include <cstring>
#include <memory>
#include <thread>

#include "arch_guest_support.hpp"
#include "capi_support.hpp"
#include "sel4vm/arch/guest_x86_context.h"
#include "sel4vm/arch/ioports.h"

namespace guestmem::test {
namespace {

class X86Context : public ::testing::TestWithParam<ArchCase> {
protected:
    void SetUp() override {
        if (const std::string why = unavailable(GetParam().backend); !why.empty()) GTEST_SKIP() << why;
        guest = std::make_unique<ArchGuest>(GetParam().backend, VM_ARCH_X86_64);
        ASSERT_TRUE(guest->ok()) << log.dump();
        vcpu = guest->vcpu;
    }

    CLogCapture log;
    std::unique_ptr<ArchGuest> guest;
    vm_vcpu_t* vcpu = nullptr;
};

/// The tests that run guest code: on the backends that run it.
class X86ContextRun : public X86Context {};

seL4_VCPUContext numbered_context() {
    seL4_VCPUContext c;
    seL4_Word* words = &c.eax;
    for (unsigned i = 0; i < sizeof c / sizeof(seL4_Word); ++i) words[i] = 0x1111111100000000ull * (i + 1) + i;
    return c;
}

TEST_P(X86Context, ThreadContextRoundTrips) {
    const seL4_VCPUContext set = numbered_context();
    ASSERT_EQ(vm_set_thread_context(vcpu, set), 0) << log.dump();
    seL4_VCPUContext got;
    std::memset(&got, 0xee, sizeof got);
    ASSERT_EQ(vm_get_thread_context(vcpu, &got), 0) << log.dump();
    EXPECT_EQ(std::memcmp(&set, &got, sizeof set), 0);

    // One register at a time: index r is word r of the context.
    for (int r = VCPU_CONTEXT_EAX; r <= VCPU_CONTEXT_R15; ++r) {
        const auto reg = static_cast<vcpu_context_reg_t>(r);
        ASSERT_EQ(vm_set_thread_context_reg(vcpu, reg, 0xabc00 + static_cast<seL4_Word>(r)), 0) << log.dump();
    }
    ASSERT_EQ(vm_get_thread_context(vcpu, &got), 0);
    EXPECT_EQ(got.eax, 0xabc00u);
    EXPECT_EQ(got.ebp, 0xabc06u);
    EXPECT_EQ(got.r8, 0xabc07u);
    EXPECT_EQ(got.r15, 0xabc0eu);
    seL4_Word value = 0;
    ASSERT_EQ(vm_get_thread_context_reg(vcpu, VCPU_CONTEXT_EDI, &value), 0);
    EXPECT_EQ(value, 0xabc05u);
}

TEST_P(X86Context, ThreadContextLeavesRipRspAndFlagsAlone) {
    seL4_Word rip = 0, rsp = 0;
    ASSERT_EQ(vm_get_vmcs_field(vcpu, VMX_GUEST_RIP, &rip), 0);
    ASSERT_EQ(vm_get_vmcs_field(vcpu, VMX_GUEST_RSP, &rsp), 0);
    EXPECT_EQ(rip, ArchGuest::kEntry);
    EXPECT_EQ(rsp, ArchGuest::kStack);
    ASSERT_EQ(vm_set_thread_context(vcpu, numbered_context()), 0);
    seL4_Word after = 0;
    ASSERT_EQ(vm_get_vmcs_field(vcpu, VMX_GUEST_RIP, &after), 0);
    EXPECT_EQ(after, rip);
    ASSERT_EQ(vm_get_vmcs_field(vcpu, VMX_GUEST_RSP, &after), 0);
    EXPECT_EQ(after, rsp);
}

TEST_P(X86Context, VmcsFieldsRoundTrip) {
    struct Case {
        seL4_Word field;
        seL4_Word value;
    };
    // Values a 64-bit guest can hold on every backend.
    const Case cases[] = {
        {VMX_GUEST_RIP, 0x20000},        {VMX_GUEST_RSP, 0x7fff0},        {VMX_GUEST_RFLAGS, 0x202},
        {VMX_GUEST_FS_BASE, 0x12345000}, {VMX_GUEST_GS_BASE, 0x6789a000}, {VMX_GUEST_GDTR_LIMIT, 0x7f},
        {VMX_GUEST_IDTR_BASE, 0x3000},   {VMX_GUEST_IDTR_LIMIT, 0xfff},
    };
    for (const Case& c : cases) {
        ASSERT_EQ(vm_set_vmcs_field(vcpu, c.field, c.value), 0) << std::hex << c.field << log.dump();
        seL4_Word got = 0;
        ASSERT_EQ(vm_get_vmcs_field(vcpu, c.field, &got), 0) << std::hex << c.field;
        EXPECT_EQ(got, c.value) << std::hex << c.field;
    }
    // The registers a thread context holds are untouched.
    seL4_Word rax = 1;
    ASSERT_EQ(vm_get_thread_context_reg(vcpu, VCPU_CONTEXT_EAX, &rax), 0);
    EXPECT_EQ(rax, 0u);
}

TEST_P(X86Context, VmcsFieldsShowTheBootState) {
    // vcpu_boot entered 64-bit long mode with paging.
    seL4_Word cr0 = 0, cr3 = 0, efer = 0, cs_rights = 0, cs = 0;
    ASSERT_EQ(vm_get_vmcs_field(vcpu, VMX_GUEST_CR0, &cr0), 0);
    ASSERT_EQ(vm_get_vmcs_field(vcpu, VMX_GUEST_CR3, &cr3), 0);
    ASSERT_EQ(vm_get_vmcs_field(vcpu, VMX_GUEST_EFER, &efer), 0);
    ASSERT_EQ(vm_get_vmcs_field(vcpu, VMX_GUEST_CS_ACCESS_RIGHTS, &cs_rights), 0);
    ASSERT_EQ(vm_get_vmcs_field(vcpu, VMX_GUEST_CS_SELECTOR, &cs), 0);
    EXPECT_NE(cr0 & 1, 0u) << "PE";
    EXPECT_NE(cr0 & (1ull << 31), 0u) << "PG";
    EXPECT_NE(efer & (1u << 10), 0u) << "LMA";
    EXPECT_NE(cs_rights & ACCESS_RIGHTS_P, 0u);
    EXPECT_NE(cs_rights & ACCESS_RIGHTS_L, 0u);
    EXPECT_NE(cs_rights & ACCESS_RIGHTS_S, 0u);
    EXPECT_EQ(cs_rights & ACCESS_RIGHTS_UNUSABLE, 0u);
    EXPECT_NE(cs, 0u);
    // Writing back what was read changes nothing.
    ASSERT_EQ(vm_set_vmcs_field(vcpu, VMX_GUEST_CS_ACCESS_RIGHTS, cs_rights), 0) << log.dump();
    ASSERT_EQ(vm_set_vmcs_field(vcpu, VMX_GUEST_CR3, cr3), 0) << log.dump();
    seL4_Word again = 0;
    ASSERT_EQ(vm_get_vmcs_field(vcpu, VMX_GUEST_CS_ACCESS_RIGHTS, &again), 0);
    EXPECT_EQ(again, cs_rights);
}

TEST_P(X86Context, VmcsFieldsNotHeldAreRefusedByName) {
    seL4_Word value = 42;
    EXPECT_EQ(vm_get_vmcs_field(vcpu, VMX_CONTROL_PRIMARY_PROCESSOR_CONTROLS, &value), -1);
    EXPECT_TRUE(log.has_error("vm_get_vmcs_field", "VMX_CONTROL_PRIMARY_PROCESSOR_CONTROLS")) << log.dump();
    EXPECT_EQ(vm_set_vmcs_field(vcpu, VMX_DATA_EXIT_QUALIFICATION, 1), -1);
    EXPECT_TRUE(log.has_error("vm_set_vmcs_field", "VMX_DATA_EXIT_QUALIFICATION")) << log.dump();
    EXPECT_EQ(vm_set_vmcs_field(vcpu, VMX_GUEST_DR7, 0x400), -1);
    EXPECT_TRUE(log.has_error("vm_set_vmcs_field", "VMX_GUEST_DR7")) << log.dump();
    EXPECT_EQ(vm_get_vmcs_field(vcpu, 0x1234, &value), -1);
    EXPECT_TRUE(log.has_error("vm_get_vmcs_field", "0x1234")) << log.dump();
    EXPECT_EQ(value, 42u);
}

TEST_P(X86Context, VmcsValuesThatDoNotFitAreRefused) {
    seL4_Word before = 0;
    ASSERT_EQ(vm_get_vmcs_field(vcpu, VMX_GUEST_DS_ACCESS_RIGHTS, &before), 0);
    EXPECT_EQ(vm_set_vmcs_field(vcpu, VMX_GUEST_FS_SELECTOR, 0x10000), -1);
    EXPECT_EQ(vm_set_vmcs_field(vcpu, VMX_GUEST_GDTR_LIMIT, 0x10000), -1);
    EXPECT_EQ(vm_set_vmcs_field(vcpu, VMX_GUEST_FS_LIMIT, 0x100000000ull), -1);
    EXPECT_EQ(vm_set_vmcs_field(vcpu, VMX_GUEST_DS_ACCESS_RIGHTS, before | ACCESS_RIGHTS_AVL), -1);
    EXPECT_EQ(vm_set_vmcs_field(vcpu, VMX_GUEST_DS_ACCESS_RIGHTS, before | (1ull << 9)), -1);
    EXPECT_TRUE(log.has_error("vm_set_vmcs_field", "does not fit VMX_GUEST_DS_ACCESS_RIGHTS")) << log.dump();
    seL4_Word after = 0;
    ASSERT_EQ(vm_get_vmcs_field(vcpu, VMX_GUEST_DS_ACCESS_RIGHTS, &after), 0);
    EXPECT_EQ(after, before);
}

TEST_P(X86Context, RefusesBadArguments) {
    const seL4_VCPUContext context = numbered_context();
    seL4_Word value = 7;
    EXPECT_EQ(vm_set_thread_context(nullptr, context), -1);
    EXPECT_TRUE(log.has_error("vm_x86_set_thread_context", "vcpu is NULL")) << log.dump();
    EXPECT_EQ(vm_get_thread_context(vcpu, nullptr), -1);
    EXPECT_TRUE(log.has_error("vm_x86_get_thread_context", "context is NULL")) << log.dump();
    EXPECT_EQ(vm_get_thread_context_reg(vcpu, VCPU_CONTEXT_EAX, nullptr), -1);
    EXPECT_EQ(vm_get_vmcs_field(vcpu, VMX_GUEST_RIP, nullptr), -1);
    EXPECT_EQ(vm_set_thread_context_reg(vcpu, static_cast<vcpu_context_reg_t>(15), 1), -1);
    EXPECT_TRUE(log.has_error("vm_x86_set_thread_context_reg", "not a vcpu_context_reg_t")) << log.dump();
    EXPECT_EQ(vm_get_thread_context_reg(vcpu, static_cast<vcpu_context_reg_t>(15), &value), -1);
    EXPECT_EQ(value, 7u);
    // A forged handle is never dereferenced.
    auto* forged = reinterpret_cast<vm_vcpu_t*>(static_cast<std::uintptr_t>(0x10));
    EXPECT_EQ(vm_get_thread_context_reg(forged, VCPU_CONTEXT_EAX, &value), -1);
    EXPECT_TRUE(log.has_error("vm_x86_get_thread_context_reg", "not a live vCPU handle")) << log.dump();
    EXPECT_EQ(vm_set_vmcs_field(forged, VMX_GUEST_RIP, 0), -1);
    // Nothing changed.
    seL4_VCPUContext now;
    ASSERT_EQ(vm_get_thread_context(vcpu, &now), 0);
    EXPECT_EQ(now.eax, 0u);
    EXPECT_EQ(now.r15, 0u);
}

TEST_P(X86Context, RefusesADestroyedVcpu) {
    vm_vcpu_t* stale = vcpu;
    vm_destroy(guest->vm);
    guest->vm = nullptr;
    seL4_Word value = 0;
    EXPECT_EQ(vm_get_thread_context_reg(stale, VCPU_CONTEXT_EAX, &value), -1);
    EXPECT_EQ(vm_set_thread_context(stale, numbered_context()), -1);
    EXPECT_EQ(vm_set_vmcs_field(stale, VMX_GUEST_RIP, 0x1000), -1);
    EXPECT_TRUE(log.has_error("vm_set_vmcs_field", "not a live vCPU handle")) << log.dump();
}

/// The guest adds rbx and rcx into rax and halts.
TEST_P(X86ContextRun, AGuestComputesWithTheRegistersSet) {
    ASSERT_TRUE(guest->code({
        0x48, 0x89, 0xd8,  // mov rax, rbx
        0x48, 0x01, 0xc8,  // add rax, rcx
        0xf4,              // hlt
    }));
    ASSERT_EQ(vm_set_thread_context_reg(vcpu, VCPU_CONTEXT_EBX, 0x100000000ull), 0);
    ASSERT_EQ(vm_set_thread_context_reg(vcpu, VCPU_CONTEXT_ECX, 0x23), 0);
    vm_run_result_t result{};
    ASSERT_EQ(vcpu_run(vcpu, &result), 0) << result.message << log.dump();
    EXPECT_EQ(result.reason, VM_STOP_HALTED);
    seL4_VCPUContext context;
    ASSERT_EQ(vm_get_thread_context(vcpu, &context), 0);
    EXPECT_EQ(context.eax, 0x100000023ull);
    EXPECT_EQ(context.ebx, 0x100000000ull);
    seL4_Word rip = 0;
    ASSERT_EQ(vm_get_vmcs_field(vcpu, VMX_GUEST_RIP, &rip), 0);
    EXPECT_GE(rip, ArchGuest::kEntry + 6);  // at or past the hlt
    EXPECT_LE(rip, ArchGuest::kEntry + 7);

    // A new RIP from the VMCS call: run the code again from its start.
    ASSERT_EQ(vm_set_vmcs_field(vcpu, VMX_GUEST_RIP, ArchGuest::kEntry), 0);
    ASSERT_EQ(vm_set_thread_context_reg(vcpu, VCPU_CONTEXT_ECX, 0x1), 0);
    ASSERT_EQ(vcpu_run(vcpu, &result), 0) << result.message;
    ASSERT_EQ(vm_get_thread_context_reg(vcpu, VCPU_CONTEXT_EAX, &rip), 0);
    EXPECT_EQ(rip, 0x100000001ull);
}

struct Rendezvous {
    std::atomic<bool> in_handler{false};
    std::atomic<bool> release{false};
    int own_get = -2;
    int own_set = -2;
    seL4_Word own_eax = 0;
};

ioport_fault_result_t wait_in_handler(vm_vcpu_t* vcpu, void* cookie, unsigned int, unsigned int, unsigned int value) {
    auto* r = static_cast<Rendezvous*>(cookie);
    // From the vCPU's own callback: reading works, writing does not.
    r->own_get = vm_get_thread_context_reg(vcpu, VCPU_CONTEXT_EAX, &r->own_eax);
    r->own_set = vm_set_thread_context_reg(vcpu, VCPU_CONTEXT_EBX, 1);
    (void)value;
    r->in_handler = true;
    while (!r->release) std::this_thread::yield();
    return IO_FAULT_HANDLED;
}

TEST_P(X86ContextRun, ARunningVcpuIsRefusedExceptForReadsFromItsOwnCallbacks) {
    ASSERT_TRUE(guest->code({
        0xb8, 0x5a, 0x00, 0x00, 0x00,  // mov eax, 0x5a
        0xe6, 0x80,                    // out 0x80, al
        0xf4,                          // hlt
    }));
    Rendezvous r;
    vm_ioport_interface_t handler{&r, nullptr, &wait_in_handler, "rendezvous"};
    ASSERT_EQ(vm_io_port_add_handler(guest->vm, {0x80, 0x80}, handler), 0);
    vm_run_result_t result{};
    int rc = -2;
    std::thread runner([&] { rc = vcpu_run(vcpu, &result); });
    while (!r.in_handler) std::this_thread::yield();
    seL4_Word value = 3;
    EXPECT_EQ(vm_get_thread_context_reg(vcpu, VCPU_CONTEXT_EAX, &value), -1);
    EXPECT_TRUE(log.has_error("vm_x86_get_thread_context_reg", "is running")) << log.dump();
    EXPECT_EQ(vm_set_vmcs_field(vcpu, VMX_GUEST_RIP, 0), -1);
    EXPECT_EQ(vm_set_thread_context(vcpu, numbered_context()), -1);
    EXPECT_EQ(value, 3u);
    r.release = true;
    runner.join();
    EXPECT_EQ(rc, 0) << result.message;
    EXPECT_EQ(r.own_get, 0);
    EXPECT_EQ(r.own_eax, 0x5au);
    EXPECT_EQ(r.own_set, -1);
    EXPECT_TRUE(log.has_error("vm_x86_set_thread_context_reg", "in the middle of the access")) << log.dump();
    // After the run, both work again and the refused writes changed nothing.
    ASSERT_EQ(vm_get_thread_context_reg(vcpu, VCPU_CONTEXT_EBX, &value), 0);
    EXPECT_EQ(value, 0u);
    EXPECT_EQ(vm_set_thread_context_reg(vcpu, VCPU_CONTEXT_EBX, 2), 0);
}

INSTANTIATE_TEST_SUITE_P(Backends, X86ContextRun,
                         ::testing::Values(ArchCase{VM_BACKEND_EMU, VM_ARCH_X86_64, "emu"},
                                           ArchCase{VM_BACKEND_KVM, VM_ARCH_X86_64, "kvm"}),
                         case_name);
INSTANTIATE_TEST_SUITE_P(Backends, X86Context,
                         ::testing::Values(ArchCase{VM_BACKEND_SIM, VM_ARCH_X86_64, "sim"},
                                           ArchCase{VM_BACKEND_EMU, VM_ARCH_X86_64, "emu"},
                                           ArchCase{VM_BACKEND_KVM, VM_ARCH_X86_64, "kvm"}),
                         case_name);

/// The x86-64 functions refuse a vCPU of an AArch64 VM, naming the header to use.
class X86ContextOnAarch64 : public ::testing::TestWithParam<ArchCase> {};

TEST_P(X86ContextOnAarch64, EveryFunctionRefusesTheVcpu) {
    if (const std::string why = unavailable(GetParam().backend); !why.empty()) GTEST_SKIP() << why;
    CLogCapture log;
    ArchGuest guest(GetParam().backend, VM_ARCH_AARCH64);
    ASSERT_TRUE(guest.ok()) << log.dump();
    seL4_VCPUContext context{};
    seL4_Word value = 9;
    EXPECT_EQ(vm_set_thread_context(guest.vcpu, context), -1);
    EXPECT_EQ(vm_get_thread_context(guest.vcpu, &context), -1);
    EXPECT_EQ(vm_set_thread_context_reg(guest.vcpu, VCPU_CONTEXT_EAX, 1), -1);
    EXPECT_EQ(vm_get_thread_context_reg(guest.vcpu, VCPU_CONTEXT_EAX, &value), -1);
    EXPECT_EQ(vm_set_vmcs_field(guest.vcpu, VMX_GUEST_RIP, 0x1000), -1);
    EXPECT_EQ(vm_get_vmcs_field(guest.vcpu, VMX_GUEST_RIP, &value), -1);
    EXPECT_EQ(value, 9u);
    EXPECT_TRUE(log.has_error("vm_x86_get_thread_context", "guest_arm_context.h")) << log.dump();
    EXPECT_TRUE(log.has_error("vm_set_vmcs_field", "AArch64")) << log.dump();
}

INSTANTIATE_TEST_SUITE_P(Backends, X86ContextOnAarch64,
                         ::testing::Values(ArchCase{VM_BACKEND_SIM, VM_ARCH_AARCH64, "sim"},
                                           ArchCase{VM_BACKEND_EMU, VM_ARCH_AARCH64, "emu"}),
                         case_name);

}  // namespace
}  // namespace guestmem::test
