// SPDX-License-Identifier: BSD-2-Clause
// <sel4vm/arch/ioports.h> on every backend that runs x86-64 guests: a real
// guest's IN and OUT reaching handlers added with vm_io_port_add_handler and
// the unhandled-port callback (emu, kvm), the same accesses performed with
// vm_sim_port_access (sim), errors stopping the run, handlers reaching vCPUs
// created later, and every refusal.
#include <gtest/gtest.h>

#include <cstdint>
#include <memory>
#include <mutex>
#include <vector>

#include "arch_guest_support.hpp"
#include "capi_support.hpp"
#include "sel4vm/arch/guest_x86_context.h"
#include "sel4vm/arch/ioports.h"

namespace guestmem::test {
namespace {

/// What a device saw, and what it answers.
struct Device {
    struct Seen {
        vm_vcpu_t* vcpu;
        unsigned port;
        unsigned size;
        bool is_in;
        unsigned value;  // OUT: written
    };
    std::mutex mutex;
    std::vector<Seen> seen;
    unsigned in_value = 0;
    ioport_fault_result_t answer = IO_FAULT_HANDLED;

    void record(vm_vcpu_t* vcpu, unsigned port, unsigned size, bool is_in, unsigned value) {
        std::lock_guard lock(mutex);
        seen.push_back({vcpu, port, size, is_in, value});
    }
};

ioport_fault_result_t device_in(vm_vcpu_t* vcpu, void* cookie, unsigned int port, unsigned int size,
                                unsigned int* result) {
    auto* d = static_cast<Device*>(cookie);
    d->record(vcpu, port, size, true, 0);
    *result = d->in_value;
    return d->answer;
}

ioport_fault_result_t device_out(vm_vcpu_t* vcpu, void* cookie, unsigned int port, unsigned int size,
                                 unsigned int value) {
    auto* d = static_cast<Device*>(cookie);
    d->record(vcpu, port, size, false, value);
    return d->answer;
}

ioport_fault_result_t unhandled_port(vm_vcpu_t* vcpu, unsigned int port, bool is_in, unsigned int* value, size_t size,
                                     void* cookie) {
    auto* d = static_cast<Device*>(cookie);
    d->record(vcpu, port, static_cast<unsigned>(size), is_in, is_in ? 0 : *value);
    if (is_in) *value = d->in_value;
    return d->answer;
}

vm_ioport_interface_t interface_of(Device& d, const char* desc = "test device") {
    return vm_ioport_interface_t{&d, &device_in, &device_out, desc};
}

class IoPorts : public ::testing::TestWithParam<ArchCase> {
protected:
    void SetUp() override {
        if (const std::string why = unavailable(GetParam().backend); !why.empty()) GTEST_SKIP() << why;
        guest = std::make_unique<ArchGuest>(GetParam().backend, VM_ARCH_X86_64);
        ASSERT_TRUE(guest->ok()) << log.dump();
        vm = guest->vm;
        vcpu = guest->vcpu;
    }
    bool runs_guests() const { return GetParam().backend != VM_BACKEND_SIM; }

    CLogCapture log;
    std::unique_ptr<ArchGuest> guest;
    vm_t* vm = nullptr;
    vm_vcpu_t* vcpu = nullptr;
};

/// The tests that run guest code: on the backends that run it.
class IoPortsRun : public IoPorts {};
/// vm_sim_port_access: the sim backend's.
class IoPortsSim : public IoPorts {};

TEST_P(IoPortsRun, AGuestsInAndOutReachTheHandlers) {
    ASSERT_TRUE(guest->code({
        0xba, 0x70, 0x00, 0x00, 0x00,  // mov edx, 0x70
        0xb8, 0x44, 0x33, 0x22, 0x11,  // mov eax, 0x11223344
        0xef,                          // out dx, eax
        0xee,                          // out dx, al
        0xed,                          // in eax, dx
        0x89, 0xc3,                    // mov ebx, eax
        0x66, 0xed,                    // in ax, dx
        0x89, 0xc1,                    // mov ecx, eax
        0xba, 0x90, 0x00, 0x00, 0x00,  // mov edx, 0x90 (no handler)
        0xec,                          // in al, dx
        0x89, 0xc6,                    // mov esi, eax
        0x66, 0xe7, 0x92,              // out 0x92, ax
        0xf4,                          // hlt
    }));
    Device rtc;
    rtc.in_value = 0xcafebabe;
    Device others;
    others.in_value = 0x5a;
    ASSERT_EQ(vm_io_port_add_handler(vm, {0x70, 0x71}, interface_of(rtc, "rtc")), 0) << log.dump();
    ASSERT_EQ(vm_register_unhandled_ioport_callback(vm, &unhandled_port, &others), 0) << log.dump();
    vm_run_result_t result{};
    ASSERT_EQ(vcpu_run(vcpu, &result), 0) << result.message << log.dump();
    EXPECT_EQ(result.reason, VM_STOP_HALTED);
    EXPECT_EQ(result.port_io_exits, 6u);

    ASSERT_EQ(rtc.seen.size(), 4u);
    EXPECT_EQ(rtc.seen[0].vcpu, vcpu);
    EXPECT_FALSE(rtc.seen[0].is_in);
    EXPECT_EQ(rtc.seen[0].port, 0x70u);
    EXPECT_EQ(rtc.seen[0].size, 4u);
    EXPECT_EQ(rtc.seen[0].value, 0x11223344u);
    EXPECT_EQ(rtc.seen[1].size, 1u);
    EXPECT_EQ(rtc.seen[1].value, 0x44u);  // only al
    EXPECT_TRUE(rtc.seen[2].is_in);
    EXPECT_EQ(rtc.seen[2].size, 4u);
    EXPECT_EQ(rtc.seen[3].size, 2u);
    ASSERT_EQ(others.seen.size(), 2u);
    EXPECT_TRUE(others.seen[0].is_in);
    EXPECT_EQ(others.seen[0].port, 0x90u);
    EXPECT_EQ(others.seen[0].size, 1u);
    EXPECT_FALSE(others.seen[1].is_in);
    EXPECT_EQ(others.seen[1].port, 0x92u);
    EXPECT_EQ(others.seen[1].size, 2u);
    EXPECT_EQ(others.seen[1].value, 0xba5au);  // ax after the IN into al

    seL4_VCPUContext context;
    ASSERT_EQ(vm_get_thread_context(vcpu, &context), 0);
    EXPECT_EQ(context.ebx, 0xcafebabeu);
    EXPECT_EQ(context.ecx, 0xcafebabeu);  // in ax read 0xbabe (the value cut to 2 bytes); the upper half stays
    EXPECT_EQ(context.esi, 0xcafeba5au);
}

/// The guest writes al to `port` and halts.
std::vector<std::uint8_t> out_to(std::uint8_t port) { return {0xb0, 0x01, 0xe6, port, 0xf4}; }

TEST_P(IoPortsRun, AHandlerErrorStopsTheRun) {
    ASSERT_TRUE(guest->code(out_to(0x71)));
    Device d;
    d.answer = IO_FAULT_ERROR;
    ASSERT_EQ(vm_io_port_add_handler(vm, {0x70, 0x71}, interface_of(d, "failing")), 0);
    vm_run_result_t result{};
    EXPECT_EQ(vcpu_run(vcpu, &result), -1);
    EXPECT_EQ(result.reason, VM_STOP_PORT_IO_ERROR);
    EXPECT_TRUE(result.has_port);
    EXPECT_EQ(result.port, 0x71);
    EXPECT_TRUE(result.port_is_write);
    EXPECT_TRUE(log.has_error("port I/O", "IO_FAULT_ERROR")) << log.dump();
    EXPECT_TRUE(log.has_error("port I/O", "failing")) << log.dump();
}

TEST_P(IoPortsRun, AnUnhandledAccessWithoutCallbackStopsTheRun) {
    ASSERT_TRUE(guest->code(out_to(0x60)));
    Device d;
    d.answer = IO_FAULT_UNHANDLED;  // passes everything on: no callback, so an error
    ASSERT_EQ(vm_io_port_add_handler(vm, {0x60, 0x64}, interface_of(d)), 0);
    vm_run_result_t result{};
    EXPECT_EQ(vcpu_run(vcpu, &result), -1);
    EXPECT_EQ(result.reason, VM_STOP_PORT_IO_ERROR);
    EXPECT_EQ(result.port, 0x60);
    EXPECT_EQ(d.seen.size(), 1u);
    EXPECT_TRUE(log.has_error("port I/O", "no unhandled-port callback")) << log.dump();
}

TEST_P(IoPortsSim, SimPortAccessGoesThroughTheTable) {
    Device d;
    d.in_value = 0x12345678;
    Device rest;
    rest.in_value = 0xab;
    ASSERT_EQ(vm_io_port_add_handler(vm, {0x3f8, 0x3ff}, interface_of(d, "uart")), 0);
    uint32_t data = 0xffffff41;
    ASSERT_EQ(vm_sim_port_access(vcpu, 0x3f8, 1, true, &data), 0) << log.dump();
    ASSERT_EQ(vm_sim_port_access(vcpu, 0x3ff, 2, false, &data), 0) << log.dump();
    EXPECT_EQ(data, 0x5678u);  // cut to 2 bytes
    ASSERT_EQ(d.seen.size(), 2u);
    EXPECT_EQ(d.seen[0].value, 0x41u);  // the low byte only
    EXPECT_EQ(d.seen[1].port, 0x3ffu);

    // Outside every range, without a callback: an error.
    data = 0;
    EXPECT_EQ(vm_sim_port_access(vcpu, 0x400, 4, false, &data), -1);
    EXPECT_TRUE(log.has_error("port I/O", "no handler covers the port")) << log.dump();
    ASSERT_EQ(vm_register_unhandled_ioport_callback(vm, &unhandled_port, &rest), 0);
    ASSERT_EQ(vm_sim_port_access(vcpu, 0x400, 4, false, &data), 0) << log.dump();
    EXPECT_EQ(data, 0xabu);
    // A handler's IO_FAULT_UNHANDLED goes to the callback too.
    d.answer = IO_FAULT_UNHANDLED;
    ASSERT_EQ(vm_sim_port_access(vcpu, 0x3f9, 1, false, &data), 0);
    EXPECT_EQ(rest.seen.size(), 2u);
    EXPECT_EQ(rest.seen[1].port, 0x3f9u);
    // The callback's IO_FAULT_UNHANDLED and IO_FAULT_ERROR are errors.
    rest.answer = IO_FAULT_UNHANDLED;
    EXPECT_EQ(vm_sim_port_access(vcpu, 0x3f9, 1, false, &data), -1);
    rest.answer = IO_FAULT_ERROR;
    EXPECT_EQ(vm_sim_port_access(vcpu, 0x500, 1, true, &data), -1);
    EXPECT_TRUE(log.has_error("vm_sim_port_access", "port 0x500")) << log.dump();
}

TEST_P(IoPortsSim, SimPortAccessAdvancesTheInstructionPointer) {
    Device d;
    ASSERT_EQ(vm_io_port_add_handler(vm, {0x80, 0x80}, interface_of(d)), 0);
    uint32_t data = 1;
    ASSERT_EQ(vm_sim_port_access(vcpu, 0x80, 1, true, &data), 0);
    seL4_Word rip = 0;
    ASSERT_EQ(vm_get_vmcs_field(vcpu, VMX_GUEST_RIP, &rip), 0);
    EXPECT_EQ(rip, ArchGuest::kEntry + 4);
    d.answer = IO_FAULT_ERROR;
    EXPECT_EQ(vm_sim_port_access(vcpu, 0x80, 1, true, &data), -1);
    ASSERT_EQ(vm_get_vmcs_field(vcpu, VMX_GUEST_RIP, &rip), 0);
    EXPECT_EQ(rip, ArchGuest::kEntry + 4);  // a failed access does not complete
}

TEST_P(IoPorts, HandlersServeVcpusCreatedLater) {
    Device d;
    d.in_value = 0x33;
    ASSERT_EQ(vm_io_port_add_handler(vm, {0x80, 0x8f}, interface_of(d)), 0);
    vm_vcpu_t* later = vm_create_vcpu(vm, 0);
    ASSERT_NE(later, nullptr) << log.dump();
    vm_boot_spec_t spec{};
    spec.entry = ArchGuest::kEntry;
    spec.stack = ArchGuest::kStack - 0x1000;
    spec.x86_tables = ArchGuest::kTables;
    ASSERT_EQ(vcpu_boot(later, &spec), 0) << log.dump();
    if (runs_guests()) {
        ASSERT_TRUE(guest->code({0xe4, 0x84, 0xf4}));  // in al, 0x84; hlt
        vm_run_result_t result{};
        ASSERT_EQ(vcpu_run(later, &result), 0) << result.message << log.dump();
        seL4_Word rax = 0;
        ASSERT_EQ(vm_get_thread_context_reg(later, VCPU_CONTEXT_EAX, &rax), 0);
        EXPECT_EQ(rax & 0xff, 0x33u);
    } else {
        uint32_t data = 0;
        ASSERT_EQ(vm_sim_port_access(later, 0x84, 1, false, &data), 0) << log.dump();
        EXPECT_EQ(data, 0x33u);
    }
    ASSERT_EQ(d.seen.size(), 1u);
    EXPECT_EQ(d.seen[0].vcpu, later);
}

TEST_P(IoPorts, OverlappingAndMalformedRangesAreRefused) {
    Device d;
    ASSERT_EQ(vm_io_port_add_handler(vm, {0x40, 0x43}, interface_of(d, "pit")), 0);
    EXPECT_EQ(vm_io_port_add_handler(vm, {0x43, 0x44}, interface_of(d, "late")), -1);
    EXPECT_TRUE(log.has_error("vm_io_port_add_handler", "overlaps [0x40, 0x43] (pit)")) << log.dump();
    EXPECT_EQ(vm_io_port_add_handler(vm, {0x30, 0x40}, interface_of(d)), -1);
    EXPECT_EQ(vm_io_port_add_handler(vm, {0x41, 0x41}, interface_of(d)), -1);
    EXPECT_EQ(vm_io_port_add_handler(vm, {0x00, 0xffff}, interface_of(d)), -1);
    // Adjacent ranges are fine, and so are single ports at both ends.
    EXPECT_EQ(vm_io_port_add_handler(vm, {0x44, 0x44}, interface_of(d)), 0) << log.dump();
    EXPECT_EQ(vm_io_port_add_handler(vm, {0x3f, 0x3f}, interface_of(d)), 0) << log.dump();
    EXPECT_EQ(vm_io_port_add_handler(vm, {0xffff, 0xffff}, interface_of(d)), 0) << log.dump();
    EXPECT_EQ(vm_io_port_add_handler(vm, {0, 0}, interface_of(d)), 0) << log.dump();
    // start > end; no function at all.
    EXPECT_EQ(vm_io_port_add_handler(vm, {0x61, 0x60}, interface_of(d)), -1);
    EXPECT_TRUE(log.has_error("vm_io_port_add_handler", "start is after end")) << log.dump();
    vm_ioport_interface_t empty{&d, nullptr, nullptr, "empty"};
    EXPECT_EQ(vm_io_port_add_handler(vm, {0x60, 0x60}, empty), -1);
    EXPECT_TRUE(log.has_error("vm_io_port_add_handler", "neither port_in nor port_out")) << log.dump();
}

TEST_P(IoPorts, RefusesBadArguments) {
    Device d;
    EXPECT_EQ(vm_io_port_add_handler(nullptr, {1, 2}, interface_of(d)), -1);
    EXPECT_TRUE(log.has_error("vm_io_port_add_handler", "vm is NULL")) << log.dump();
    EXPECT_EQ(vm_register_unhandled_ioport_callback(vm, nullptr, nullptr), -1);
    EXPECT_TRUE(log.has_error("vm_register_unhandled_ioport_callback", "callback is NULL")) << log.dump();
    auto* forged = reinterpret_cast<vm_t*>(static_cast<std::uintptr_t>(0x30));
    EXPECT_EQ(vm_register_unhandled_ioport_callback(forged, &unhandled_port, &d), -1);
    EXPECT_TRUE(log.has_error("vm_register_unhandled_ioport_callback", "not a live VM handle")) << log.dump();

    uint32_t data = 0;
    EXPECT_EQ(vm_sim_port_access(vcpu, 0x80, 3, true, &data), -1);
    EXPECT_EQ(vm_sim_port_access(vcpu, 0x80, 1, true, nullptr), -1);
    EXPECT_EQ(vm_sim_port_access(nullptr, 0x80, 1, true, &data), -1);
    if (runs_guests()) {
        EXPECT_EQ(vm_sim_port_access(vcpu, 0x80, 1, true, &data), -1);
        EXPECT_TRUE(log.has_error("vm_sim_port_access", "not on the sim backend")) << log.dump();
    }

    vm_vcpu_t* stale_vcpu = vcpu;
    vm_t* stale = vm;
    vm_destroy(guest->vm);
    guest->vm = nullptr;
    EXPECT_EQ(vm_io_port_add_handler(stale, {1, 2}, interface_of(d)), -1);
    EXPECT_TRUE(log.has_error("vm_io_port_add_handler", "not a live VM handle")) << log.dump();
    EXPECT_EQ(vm_sim_port_access(stale_vcpu, 0x80, 1, true, &data), -1);
    EXPECT_TRUE(d.seen.empty());
}

INSTANTIATE_TEST_SUITE_P(Backends, IoPortsRun,
                         ::testing::Values(ArchCase{VM_BACKEND_EMU, VM_ARCH_X86_64, "emu"},
                                           ArchCase{VM_BACKEND_KVM, VM_ARCH_X86_64, "kvm"}),
                         case_name);
INSTANTIATE_TEST_SUITE_P(Backends, IoPortsSim, ::testing::Values(ArchCase{VM_BACKEND_SIM, VM_ARCH_X86_64, "sim"}),
                         case_name);
INSTANTIATE_TEST_SUITE_P(Backends, IoPorts,
                         ::testing::Values(ArchCase{VM_BACKEND_SIM, VM_ARCH_X86_64, "sim"},
                                           ArchCase{VM_BACKEND_EMU, VM_ARCH_X86_64, "emu"},
                                           ArchCase{VM_BACKEND_KVM, VM_ARCH_X86_64, "kvm"}),
                         case_name);

/// AArch64 guests have no I/O ports: every function refuses their VM.
class IoPortsOnAarch64 : public ::testing::TestWithParam<ArchCase> {};

TEST_P(IoPortsOnAarch64, EveryFunctionRefusesTheVm) {
    if (const std::string why = unavailable(GetParam().backend); !why.empty()) GTEST_SKIP() << why;
    CLogCapture log;
    ArchGuest guest(GetParam().backend, VM_ARCH_AARCH64);
    ASSERT_TRUE(guest.ok()) << log.dump();
    Device d;
    EXPECT_EQ(vm_io_port_add_handler(guest.vm, {0x80, 0x80}, interface_of(d)), -1);
    EXPECT_TRUE(log.has_error("vm_io_port_add_handler", "no I/O ports")) << log.dump();
    EXPECT_EQ(vm_register_unhandled_ioport_callback(guest.vm, &unhandled_port, &d), -1);
    EXPECT_TRUE(log.has_error("vm_register_unhandled_ioport_callback", "no I/O ports")) << log.dump();
    uint32_t data = 0;
    EXPECT_EQ(vm_sim_port_access(guest.vcpu, 0x80, 1, true, &data), -1);
    EXPECT_TRUE(log.has_error("vm_sim_port_access")) << log.dump();
}

INSTANTIATE_TEST_SUITE_P(Backends, IoPortsOnAarch64,
                         ::testing::Values(ArchCase{VM_BACKEND_SIM, VM_ARCH_AARCH64, "sim"},
                                           ArchCase{VM_BACKEND_EMU, VM_ARCH_AARCH64, "emu"}),
                         case_name);

}  // namespace
}  // namespace guestmem::test
