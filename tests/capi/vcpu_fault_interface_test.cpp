// SPDX-License-Identifier: BSD-2-Clause
// <sel4vm/guest_vcpu_fault.h>: the access behind a fault, with libsel4vm's
// lane conventions for 1, 2, 4 and 8-byte accesses.
#include <gtest/gtest.h>

#include <functional>

#include "capi_support.hpp"
#include "guestmem/sim.hpp"

namespace guestmem {
namespace {

using test::CLogCapture;
using test::CVm;

constexpr uintptr_t kDevice = 0x1000;
constexpr uint64_t kIp = 0x80'0000;
constexpr uint64_t kWord = 0xa1a2a3a4;  // a 32-bit device register's value

// Expected values, written out from the convention rather than from the library.
uint64_t access_mask(size_t size) { return size == 8 ? ~0ull : (1ull << (8 * size)) - 1; }
unsigned lane_shift(uintptr_t addr, size_t size) { return size == 8 ? 0 : static_cast<unsigned>(addr & 3) * 8; }
uint64_t lane_mask(uintptr_t addr, size_t size) { return access_mask(size) << lane_shift(addr, size); }

/// What a callback saw, through the C functions alone.
struct Observed {
    int calls = 0;
    seL4_Word address = 0, ip = 0, data_before = 0, data_after = 0, mask = 0, emulated = 0;
    size_t size = 0;
    bool read = false;
    int set_result = 1;
};

struct Behaviour {
    Observed seen;
    seL4_Word set_value = 0;  // for reads: what set_vcpu_fault_data is given
};

memory_fault_result_t observe(vm_t*, vm_vcpu_t* vcpu, uintptr_t addr, size_t len, void* cookie) {
    auto* b = static_cast<Behaviour*>(cookie);
    Observed& o = b->seen;
    o.calls++;
    o.address = get_vcpu_fault_address(vcpu);
    EXPECT_EQ(o.address, addr) << "the callback's fault_addr and the vCPU agree";
    o.size = get_vcpu_fault_size(vcpu);
    EXPECT_EQ(o.size, len);
    o.read = is_vcpu_read_fault(vcpu);
    o.ip = get_vcpu_fault_ip(vcpu);
    o.mask = get_vcpu_fault_data_mask(vcpu);
    o.data_before = get_vcpu_fault_data(vcpu);
    if (o.read) o.set_result = set_vcpu_fault_data(vcpu, b->set_value);
    o.data_after = get_vcpu_fault_data(vcpu);
    o.emulated = emulate_vcpu_fault(vcpu, kWord);
    return FAULT_HANDLED;
}

class LaneConvention : public ::testing::TestWithParam<std::tuple<size_t, uintptr_t>> {
protected:
    CVm c;
    Behaviour behaviour;
    void SetUp() override {
        ASSERT_NE(vm_reserve_memory_at(c.vm, kDevice, 0x10, observe, &behaviour), nullptr);
        ASSERT_TRUE(sim::set_instruction_pointer(*guestmem::capi::live_vcpu(c.vcpu), kIp));
    }
};

TEST_P(LaneConvention, Write) {
    const auto [size, offset] = GetParam();
    const uintptr_t addr = kDevice + 4 + offset;
    const uint64_t value = 0x8877665544332211ull;
    ASSERT_EQ(c.write(addr, size, value), 0);
    const Observed& o = behaviour.seen;
    ASSERT_EQ(o.calls, 1);
    EXPECT_EQ(o.address, addr);
    EXPECT_EQ(o.size, size);
    EXPECT_FALSE(o.read);
    EXPECT_EQ(o.ip, kIp);
    const uint64_t data = value & access_mask(size);
    EXPECT_EQ(o.data_before, data) << "the value as the guest register holds it, only the access's bytes";
    EXPECT_EQ(o.data_after, data);
    EXPECT_EQ(o.mask, lane_mask(addr, size));
    const unsigned s = lane_shift(addr, size);
    EXPECT_EQ(o.emulated, (kWord & ~lane_mask(addr, size)) | ((data << s) & lane_mask(addr, size)))
        << "the written value merged into the register at the accessed lane";
    EXPECT_EQ(*sim::instruction_pointer(*guestmem::capi::live_vcpu(c.vcpu)), kIp + sim::kInstructionBytes);
}

TEST_P(LaneConvention, Read) {
    const auto [size, offset] = GetParam();
    const uintptr_t addr = kDevice + 4 + offset;
    behaviour.set_value = 0xf8f7f6f5f4f3f2f1ull;  // wider than any access
    uint64_t out = 0;
    ASSERT_EQ(c.read(addr, size, &out), 0);
    const Observed& o = behaviour.seen;
    ASSERT_EQ(o.calls, 1);
    EXPECT_TRUE(o.read);
    EXPECT_EQ(o.size, size);
    EXPECT_EQ(o.mask, lane_mask(addr, size));
    EXPECT_EQ(o.data_before, 0u) << "nothing set yet";
    EXPECT_EQ(o.set_result, 0);
    const uint64_t kept = behaviour.set_value & access_mask(size);
    EXPECT_EQ(o.data_after, kept) << "set_vcpu_fault_data keeps only the access's size";
    const unsigned s = lane_shift(addr, size);
    const uint64_t m = lane_mask(addr, size);
    EXPECT_EQ(o.emulated, (kWord & ~(m >> s)) | ((kept & m) >> s)) << "libsel4vm's read formula";
    EXPECT_EQ(out, kept) << "the guest gets the access's bytes of what the callback set";
}

INSTANTIATE_TEST_SUITE_P(SizesAndLanes, LaneConvention,
                         ::testing::Combine(::testing::Values(size_t{1}, size_t{2}, size_t{4}, size_t{8}),
                                            ::testing::Values(uintptr_t{0}, uintptr_t{1}, uintptr_t{2}, uintptr_t{3})),
                         [](const auto& info) {
                             return "size" + std::to_string(std::get<0>(info.param)) + "_lane" +
                                    std::to_string(std::get<1>(info.param));
                         });

// A few cases spelled out as numbers, so the convention is visible at a glance.
struct Worked {
    size_t size;
    uintptr_t offset;
    uint64_t mask;
    uint64_t merged;  // emulate_vcpu_fault(vcpu, 0xa1a2a3a4) for a write of 0x...44332211
};

class LaneWorkedExample : public ::testing::TestWithParam<Worked> {};

TEST_P(LaneWorkedExample, Write) {
    const Worked w = GetParam();
    CVm c;
    Behaviour behaviour;
    ASSERT_NE(vm_reserve_memory_at(c.vm, kDevice, 0x10, observe, &behaviour), nullptr);
    ASSERT_EQ(c.write(kDevice + w.offset, w.size, 0x8877665544332211ull), 0);
    EXPECT_EQ(behaviour.seen.mask, w.mask);
    EXPECT_EQ(behaviour.seen.emulated, w.merged);
}

INSTANTIATE_TEST_SUITE_P(Numbers, LaneWorkedExample,
                         ::testing::Values(Worked{1, 0, 0xff, 0xa1a2a311}, Worked{1, 1, 0xff00, 0xa1a211a4},
                                           Worked{1, 3, 0xff000000, 0x11a2a3a4}, Worked{2, 0, 0xffff, 0xa1a22211},
                                           Worked{2, 2, 0xffff0000, 0x2211a3a4},
                                           // crosses into the next register's bytes, as in libsel4vm
                                           Worked{2, 3, 0xffff000000, 0x2211a2a3a4},
                                           Worked{4, 0, 0xffffffff, 0x44332211},
                                           Worked{8, 0, ~0ull, 0x8877665544332211ull}));

TEST(VcpuFault, ReadsOfWorkedExamples) {
    // A read of 1 byte at lane 2 after set_vcpu_fault_data(0xab): the mask is
    // 0xff0000, and the read formula with data 0xab yields kWord & ~0xff.
    CVm c;
    Behaviour behaviour;
    behaviour.set_value = 0xab;
    ASSERT_NE(vm_reserve_memory_at(c.vm, kDevice, 0x10, observe, &behaviour), nullptr);
    EXPECT_EQ(c.read_value(kDevice + 2, 1), 0xabu);
    EXPECT_EQ(behaviour.seen.mask, 0xff0000u);
    EXPECT_EQ(behaviour.seen.emulated, 0xa1a2a300u);
    // At lane 0 the formula puts the data into the low byte.
    behaviour = Behaviour{};
    behaviour.set_value = 0xab;
    EXPECT_EQ(c.read_value(kDevice, 1), 0xabu);
    EXPECT_EQ(behaviour.seen.emulated, 0xa1a2a3abu);
}

// ---------------------------------------------------------------------------
// A device register file written the libsel4vm way.

struct RegisterFile {
    uint32_t regs[4] = {0x11111111, 0x22222222, 0x33333333, 0x44444444};
};

memory_fault_result_t register_file(vm_t*, vm_vcpu_t* vcpu, uintptr_t addr, size_t, void* cookie) {
    auto* dev = static_cast<RegisterFile*>(cookie);
    const size_t index = (addr - kDevice) / 4;
    if (is_vcpu_read_fault(vcpu)) {
        set_vcpu_fault_data(vcpu, dev->regs[index] >> ((addr & 3) * 8));
    } else {
        dev->regs[index] = static_cast<uint32_t>(emulate_vcpu_fault(vcpu, dev->regs[index]));
    }
    return FAULT_HANDLED;
}

TEST(VcpuFault, ARegisterFileUpdatesOnlyTheWrittenLanes) {
    CVm c;
    RegisterFile dev;
    ASSERT_NE(vm_reserve_memory_at(c.vm, kDevice, sizeof dev.regs, register_file, &dev), nullptr);
    ASSERT_EQ(c.write(kDevice + 1, 1, 0xaa), 0);        // reg0 byte 1
    ASSERT_EQ(c.write(kDevice + 6, 2, 0xbbcc), 0);      // reg1 bytes 2..3
    ASSERT_EQ(c.write(kDevice + 8, 4, 0xdeadbeef), 0);  // reg2 whole
    ASSERT_EQ(c.write(kDevice + 15, 1, 0x99), 0);       // reg3 byte 3
    EXPECT_EQ(dev.regs[0], 0x1111aa11u);
    EXPECT_EQ(dev.regs[1], 0xbbcc2222u);
    EXPECT_EQ(dev.regs[2], 0xdeadbeefu);
    EXPECT_EQ(dev.regs[3], 0x99444444u);
    EXPECT_EQ(c.read_value(kDevice + 1, 1), 0xaau);
    EXPECT_EQ(c.read_value(kDevice + 6, 2), 0xbbccu);
    EXPECT_EQ(c.read_value(kDevice + 8, 4), 0xdeadbeefu);
    EXPECT_EQ(c.read_value(kDevice + 10, 2), 0xdeadu);
    EXPECT_EQ(c.read_value(kDevice + 4, 4), 0xbbcc2222u);
}

// ---------------------------------------------------------------------------
// advance / restart

struct StepState {
    int calls = 0;
    int advances = 0;
    bool restart_first = false;
};

memory_fault_result_t stepping(vm_t*, vm_vcpu_t* vcpu, uintptr_t, size_t, void* cookie) {
    auto* st = static_cast<StepState*>(cookie);
    st->calls++;
    if (st->restart_first && st->calls == 1) {
        restart_vcpu_fault(vcpu);
        return FAULT_RESTART;
    }
    for (int i = 0; i < st->advances; ++i) advance_vcpu_fault(vcpu);
    set_vcpu_fault_data(vcpu, 0x5);
    return FAULT_HANDLED;
}

TEST(VcpuFault, TheVcpuAdvancesOncePerCompletedAccess) {
    for (int advances : {0, 1, 3}) {
        CVm c;
        StepState st;
        st.advances = advances;
        ASSERT_NE(vm_reserve_memory_at(c.vm, kDevice, 0x10, stepping, &st), nullptr);
        ASSERT_TRUE(sim::set_instruction_pointer(*guestmem::capi::live_vcpu(c.vcpu), kIp));
        EXPECT_EQ(c.read_value(kDevice, 4), 5u);
        EXPECT_EQ(*sim::instruction_pointer(*guestmem::capi::live_vcpu(c.vcpu)), kIp + sim::kInstructionBytes)
            << advances;
    }
}

TEST(VcpuFault, RestartRetriesTheAccess) {
    CVm c;
    StepState st;
    st.restart_first = true;
    ASSERT_NE(vm_reserve_memory_at(c.vm, kDevice, 0x10, stepping, &st), nullptr);
    ASSERT_TRUE(sim::set_instruction_pointer(*guestmem::capi::live_vcpu(c.vcpu), kIp));
    EXPECT_EQ(c.read_value(kDevice, 4), 5u);
    EXPECT_EQ(st.calls, 2);
    EXPECT_EQ(*sim::instruction_pointer(*guestmem::capi::live_vcpu(c.vcpu)), kIp + sim::kInstructionBytes);
}

// ---------------------------------------------------------------------------
// Outside a fault callback (or for another vCPU) every function fails cleanly.

struct OutsideCase {
    const char* function;
    std::function<bool(vm_vcpu_t*)> call_fails;  // true when the call returned its failure value
};

const OutsideCase kOutside[] = {
    {"get_vcpu_fault_address", [](vm_vcpu_t* v) { return get_vcpu_fault_address(v) == 0; }},
    {"get_vcpu_fault_ip", [](vm_vcpu_t* v) { return get_vcpu_fault_ip(v) == 0; }},
    {"get_vcpu_fault_data", [](vm_vcpu_t* v) { return get_vcpu_fault_data(v) == 0; }},
    {"get_vcpu_fault_data_mask", [](vm_vcpu_t* v) { return get_vcpu_fault_data_mask(v) == 0; }},
    {"get_vcpu_fault_size", [](vm_vcpu_t* v) { return get_vcpu_fault_size(v) == 0; }},
    {"is_vcpu_read_fault", [](vm_vcpu_t* v) { return !is_vcpu_read_fault(v); }},
    {"set_vcpu_fault_data", [](vm_vcpu_t* v) { return set_vcpu_fault_data(v, 1) == -1; }},
    {"emulate_vcpu_fault", [](vm_vcpu_t* v) { return emulate_vcpu_fault(v, 0x1234) == 0; }},
    {"advance_vcpu_fault",
     [](vm_vcpu_t* v) {
         advance_vcpu_fault(v);
         return true;
     }},
    {"restart_vcpu_fault",
     [](vm_vcpu_t* v) {
         restart_vcpu_fault(v);
         return true;
     }},
};

TEST(VcpuFaultOutsideACallback, EveryFunctionReturnsItsFailureValueAndLogs) {
    CVm c;
    for (const OutsideCase& o : kOutside) {
        SCOPED_TRACE(o.function);
        CLogCapture log;
        EXPECT_TRUE(o.call_fails(c.vcpu));
        EXPECT_TRUE(log.has_error(o.function, "no fault is being handled")) << log.dump();
        log.clear();
        EXPECT_TRUE(o.call_fails(nullptr));
        EXPECT_TRUE(log.has_error(o.function, "vcpu is NULL")) << log.dump();
    }
    // And nothing happened to the vCPU: its next access is ordinary.
    ASSERT_TRUE(sim::set_instruction_pointer(*guestmem::capi::live_vcpu(c.vcpu), kIp));
    ASSERT_NE(vm_reserve_memory_at(c.vm, kDevice, 4, default_error_fault_callback, nullptr), nullptr);
    uint64_t out = 0;
    {
        CLogCapture quiet;
        EXPECT_EQ(c.read(kDevice, 4, &out), -1);
    }
    EXPECT_EQ(*sim::instruction_pointer(*guestmem::capi::live_vcpu(c.vcpu)), kIp);
}

struct OtherVcpu {
    vm_vcpu_t* other = nullptr;
    bool other_failed = false;
    bool own_ok = false;
};

memory_fault_result_t ask_other(vm_t*, vm_vcpu_t* vcpu, uintptr_t addr, size_t, void* cookie) {
    auto* st = static_cast<OtherVcpu*>(cookie);
    st->other_failed = get_vcpu_fault_address(st->other) == 0 && set_vcpu_fault_data(st->other, 1) == -1;
    st->own_ok = get_vcpu_fault_address(vcpu) == addr;
    return FAULT_HANDLED;
}

TEST(VcpuFaultOutsideACallback, AnotherVcpuHasNoFaultDuringThisOnesCallback) {
    CLogCapture log;
    CVm c;
    OtherVcpu st;
    st.other = vm_create_vcpu(c.vm, 0);
    ASSERT_NE(st.other, nullptr);
    ASSERT_NE(vm_reserve_memory_at(c.vm, kDevice, 4, ask_other, &st), nullptr);
    EXPECT_EQ(c.read_value(kDevice, 4), 0u);
    EXPECT_TRUE(st.other_failed);
    EXPECT_TRUE(st.own_ok);
    EXPECT_TRUE(log.has_error("get_vcpu_fault_address", "no fault is being handled")) << log.dump();
}

}  // namespace
}  // namespace guestmem
