// SPDX-License-Identifier: BSD-2-Clause
// Leaks: thousands of cycles of create VM / reserve / map / fault / free /
// destroy must leave file descriptors, memory mappings, KVM memory slots,
// frames and resident memory where they started (after a warm-up that lets
// allocators and caches settle). The tolerances still catch a real leak: one
// descriptor or one mapping per cycle would be thousands; one 4 KiB frame
// per cycle would be tens of MiB.
#include <gtest/gtest.h>

#include <chrono>
#include <cstring>

#include "guestmem/sim.hpp"
#include "handles.hpp"
#include "kvm_test_support.hpp"
#include "sel4vm/guest_memory.h"
#include "sel4vm/guest_memory_helpers.h"
#include "sel4vm/guest_ram.h"
#include "sel4vm/guest_vcpu_fault.h"
#include "sel4vm/guestmem.h"
#include "stress_support.hpp"

namespace guestmem::stress {
namespace {

namespace gp = guestmem::guests;

constexpr std::size_t kMaxExtraMappings = 8;  // allocator arenas, thread stacks settling
constexpr std::uint64_t kMaxExtraRss = std::uint64_t{8} << 20;

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
// The sanitizers' allocators hold freed memory in quarantine and map shadow
// memory as they go, so resident memory and mapping counts say nothing about
// the library in those builds. There LeakSanitizer checks the heap instead;
// file descriptors, memory slots and capabilities stay exact everywhere.
constexpr bool kMeasureMemory = false;
#else
constexpr bool kMeasureMemory = true;
#endif

memory_fault_result_t count_and_answer(vm_t*, vm_vcpu_t* vcpu, uintptr_t, size_t, void* cookie) {
    ++*static_cast<std::uint64_t*>(cookie);
    if (is_vcpu_read_fault(vcpu)) set_vcpu_fault_data(vcpu, 0x42);
    return FAULT_HANDLED;
}

struct Baseline {
    ProcessResources process;
    std::size_t caps = 0;
    std::uint64_t frame_bytes = 0;

    static Baseline now() {
        const auto& caps = *capi::process_capabilities();
        return {ProcessResources::now(), caps.live_capabilities(), caps.frame_bytes_in_use()};
    }
};

void expect_no_growth(const char* what, const Baseline& before, const Baseline& after, int cycles, double seconds) {
    const auto rss_growth = static_cast<double>(after.process.rss) - static_cast<double>(before.process.rss);
    report(what, {{"cycles", double(cycles)},
                  {"duration_s", seconds},
                  {"fds_before", double(before.process.fds)},
                  {"fds_after", double(after.process.fds)},
                  {"mappings_before", double(before.process.mappings)},
                  {"mappings_after", double(after.process.mappings)},
                  {"rss_kib_before", double(before.process.rss >> 10)},
                  {"rss_kib_after", double(after.process.rss >> 10)},
                  {"live_caps_after", double(after.caps)}});
    EXPECT_EQ(after.process.fds, before.process.fds) << "file descriptors leaked";
    if (kMeasureMemory) {
        EXPECT_LE(after.process.mappings, before.process.mappings + kMaxExtraMappings) << "memory mappings leaked";
    }
    if (kMeasureMemory) {
        EXPECT_LE(rss_growth, double(kMaxExtraRss)) << "resident memory grew by " << rss_growth / 1024 << " KiB";
    }
    EXPECT_EQ(after.caps, before.caps) << "capabilities leaked";
    EXPECT_EQ(after.frame_bytes, before.frame_bytes) << "frames leaked";
}

/// One full life of a sim VM through the C interface: RAM from frames,
/// a device, an anonymous reservation, guest RAM, faults and accesses.
void sim_cycle(int i) {
    vm_t* vm = vm_create(VM_BACKEND_SIM);
    ASSERT_NE(vm, nullptr);
    ASSERT_EQ(vm_memory_init(vm), 0);
    vm_vcpu_t* vcpu = vm_create_vcpu(vm, 0);
    ASSERT_NE(vcpu, nullptr);
    std::uint64_t faults = 0;
    seL4_CPtr frames[2] = {vmm_frame_alloc(seL4_PageBits), vmm_frame_alloc(seL4_PageBits)};
    ASSERT_TRUE(frames[0] && frames[1]);
    vm_memory_reservation_t* ram = vm_reserve_memory_at(vm, 0x10000, 0x2000, count_and_answer, &faults);
    ASSERT_NE(ram, nullptr);
    ASSERT_EQ(vm_map_reservation_frames(vm, ram, frames, 2, seL4_PageBits), 0);
    vm_memory_reservation_t* dev = vm_reserve_memory_at(vm, 0xfe00'0000 + (i % 64), 0x10, count_and_answer, &faults);
    ASSERT_NE(dev, nullptr);
    ASSERT_EQ(vm_memory_make_anon(vm, 0x4000'0000, 0x10'0000), 0);
    uintptr_t anon_at = 0;
    vm_memory_reservation_t* anon = vm_reserve_anon_memory(vm, 0x3000, 0, count_and_answer, &faults, &anon_at);
    ASSERT_NE(anon, nullptr);
    ASSERT_EQ(vm_ram_register_at(vm, 0x80'0000, 0x4000, false), 0);  // frames owned by the VM

    std::uint64_t value = 0x1234'5678'9abc'def0ull + i;
    ASSERT_EQ(vm_sim_access(vcpu, 0x11ff8, 8, true, &value), 0);
    std::uint64_t back = 0;
    ASSERT_EQ(vm_sim_access(vcpu, 0x11ff8, 8, false, &back), 0);
    ASSERT_EQ(back, value);
    ASSERT_EQ(vm_sim_access(vcpu, 0xfe00'0000 + (i % 64) + 4, 4, false, &back), 0);
    ASSERT_EQ(vm_sim_access(vcpu, anon_at + 0x1000, 2, true, &value), 0);
    ASSERT_EQ(vm_sim_access(vcpu, 0x80'3ff8, 8, true, &value), 0);
    ASSERT_EQ(faults, 2u);

    ASSERT_EQ(vm_free_reserved_memory(vm, ram), 0);
    ASSERT_EQ(vm_free_reserved_memory(vm, anon), 0);
    if (i % 2) {
        ASSERT_EQ(vm_free_reserved_memory(vm, dev), 0);  // else vm_destroy frees it
    }
    vm_destroy(vm);
    ASSERT_EQ(vmm_cap_delete(frames[0]), 0);
    ASSERT_EQ(vmm_cap_delete(frames[1]), 0);
}

TEST(Leaks, TenThousandSimVmLifecycles) {
    constexpr int kWarmup = 200, kCycles = 10'000;
    for (int i = 0; i < kWarmup; ++i) {
        sim_cycle(i);
        if (HasFatalFailure()) return;
    }
    const Baseline before = Baseline::now();
    const auto start = std::chrono::steady_clock::now();
    for (int i = 0; i < kCycles; ++i) {
        sim_cycle(i);
        if (HasFatalFailure()) return;
    }
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    expect_no_growth("sim VM lifecycles", before, Baseline::now(), kCycles, seconds);
}

/// Within one sim VM: reserve / map / fault / free, many times over.
TEST(Leaks, TenThousandReserveMapFaultFreeCyclesInOneVm) {
    auto caps = std::make_shared<CapabilitySpace>();
    auto vm = Vm::create(BackendKind::sim, caps).value();
    ASSERT_TRUE(vm->init_memory());
    ASSERT_TRUE(vm->make_anon(0x4000'0000, 0x100'0000));
    Vcpu& vcpu = **vm->create_vcpu();
    auto cycle = [&](int i) {
        auto r = vm->reserve_anon(0x2000 + (i % 4) * 0x1000, 0, [](Fault& f) {
            if (f.is_read()) f.set_data(1);
            return FaultResult::handled;
        });
        ASSERT_TRUE(r);
        ASSERT_EQ(*sim::read(vcpu, r->addr + 8, 4), 1u);
        std::vector<Cap> frames;
        for (std::uint64_t off = 0; off < 0x2000u + static_cast<std::uint64_t>(i % 4) * 0x1000; off += kPageSize)
            frames.push_back(*caps->allocate_frame(FrameSize::k4KiB));
        ASSERT_TRUE(vm->map_frames(r->id, frames, kPageBits));
        for (Cap c : frames) ASSERT_TRUE(caps->remove(c));
        ASSERT_TRUE(sim::write(vcpu, r->addr + 0x1ff8, 8, i));
        ASSERT_TRUE(vm->free(r->id));
    };
    for (int i = 0; i < 200; ++i) {
        cycle(i);
        if (HasFatalFailure()) return;
    }
    const ProcessResources before = ProcessResources::now();
    const auto start = std::chrono::steady_clock::now();
    for (int i = 0; i < 10'000; ++i) {
        cycle(i);
        if (HasFatalFailure()) return;
    }
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    const ProcessResources after = ProcessResources::now();
    report("sim reserve/map/fault/free in one VM", {{"cycles", 10'000},
                                                    {"duration_s", seconds},
                                                    {"rss_kib_before", double(before.rss >> 10)},
                                                    {"rss_kib_after", double(after.rss >> 10)},
                                                    {"mappings_before", double(before.mappings)},
                                                    {"mappings_after", double(after.mappings)}});
    EXPECT_EQ(after.fds, before.fds);
    if (kMeasureMemory) {
        EXPECT_LE(after.mappings, before.mappings + kMaxExtraMappings);
    }
    if (kMeasureMemory) {
        EXPECT_LE(static_cast<double>(after.rss) - static_cast<double>(before.rss), double(kMaxExtraRss));
    }
    EXPECT_EQ(caps->live_capabilities(), 0u);
    EXPECT_EQ(caps->frame_bytes_in_use(), 0u);
    EXPECT_TRUE(vm->reservations().empty());
    EXPECT_EQ(vm->pools().at(0).free_bytes, 0x100'0000u);
}

/// One full life of a KVM VM: RAM, boot tables, a guest run that faults into
/// a device and the unhandled handler, a RAM page mapped and freed, destroy.
void kvm_cycle(const std::shared_ptr<CapabilitySpace>& caps, int i) {
    auto backend = kvm::create_backend();
    ASSERT_TRUE(backend) << backend.error().message;
    Vm vm(std::move(*backend), caps);
    ASSERT_TRUE(vm.init_memory());
    constexpr std::uint64_t kRam = 0x40000;  // 256 KiB: tables, image, script, stack
    auto ram = vm.reserve_at(0, kRam, [](Fault&) { return FaultResult::error; });
    ASSERT_TRUE(ram);
    std::vector<Cap> frames = test::allocate_frames(*caps, kRam / kPageSize);
    ASSERT_TRUE(vm.map_frames(*ram, frames, kPageBits));
    for (Cap c : frames) ASSERT_TRUE(caps->remove(c));
    test::load_program(vm, gp::access_script::image_path);
    std::uint64_t device_faults = 0, unhandled = 0;
    ASSERT_TRUE(vm.reserve_at(test::kDevice, 0x100, [&](Fault& f) {
        ++device_faults;
        if (f.is_read()) f.set_data(7);
        return FaultResult::handled;
    }));
    vm.set_unhandled_fault_handler([&](Fault&) {
        ++unhandled;
        return FaultResult::ignore;
    });
    auto extra = vm.reserve_at(0x100000, kPageSize, [](Fault&) { return FaultResult::error; });
    ASSERT_TRUE(extra);
    const Cap page[] = {*caps->allocate_frame(FrameSize::k4KiB)};
    ASSERT_TRUE(vm.map_frames(*extra, page, kPageBits));
    ASSERT_TRUE(caps->remove(page[0]));
    test::write_script(vm, test::kScripts,
                       {test::ScriptOp::write(test::kDevice, 4, i), test::ScriptOp::read(test::kDevice, 4),
                        test::ScriptOp::write(0x100008, 8, i), test::ScriptOp::read(0x200000, 8)});
    Vcpu& vcpu = **vm.create_vcpu();
    ASSERT_TRUE(
        vcpu.boot({.entry = test::kImage, .stack = 0x30000, .args = {test::kScripts, 1}, .x86_tables = test::kTables}));
    auto result = vcpu.run();
    ASSERT_TRUE(result);
    ASSERT_TRUE(result->halted()) << result->message;
    ASSERT_EQ(device_faults, 2u);
    ASSERT_EQ(unhandled, 1u);
    ASSERT_EQ(kvm::memslot_usage(vm.backend())->in_use, 2u);
    ASSERT_TRUE(vm.free(*extra));
    ASSERT_EQ(kvm::memslot_usage(vm.backend())->in_use, 1u) << "the freed page's slot is gone";
}

TEST(Leaks, KvmVmLifecycles) {
    GUESTMEM_REQUIRE_KVM();
    // VM creation on this host's software KVM costs milliseconds; the count
    // keeps the test within seconds (GUESTMEM_KVM_LEAK_CYCLES overrides it).
    int cycles = 300;
    if (const char* env = std::getenv("GUESTMEM_KVM_LEAK_CYCLES")) cycles = std::max(1, std::atoi(env));
    auto caps = std::make_shared<CapabilitySpace>();
    for (int i = 0; i < 20; ++i) {
        kvm_cycle(caps, i);
        if (HasFatalFailure()) return;
    }
    const ProcessResources before = ProcessResources::now();
    const auto start = std::chrono::steady_clock::now();
    for (int i = 0; i < cycles; ++i) {
        kvm_cycle(caps, i);
        if (HasFatalFailure()) return;
    }
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    const ProcessResources after = ProcessResources::now();
    report("kvm VM lifecycles", {{"cycles", double(cycles)},
                                 {"duration_s", seconds},
                                 {"ms_per_cycle", seconds * 1000 / cycles},
                                 {"fds_before", double(before.fds)},
                                 {"fds_after", double(after.fds)},
                                 {"mappings_before", double(before.mappings)},
                                 {"mappings_after", double(after.mappings)},
                                 {"rss_kib_before", double(before.rss >> 10)},
                                 {"rss_kib_after", double(after.rss >> 10)}});
    EXPECT_EQ(after.fds, before.fds) << "VM, vCPU or memfd descriptors leaked";
    if (kMeasureMemory) {
        EXPECT_LE(after.mappings, before.mappings + kMaxExtraMappings) << "kvm_run or frame mappings leaked";
    }
    if (kMeasureMemory) {
        EXPECT_LE(static_cast<double>(after.rss) - static_cast<double>(before.rss), double(kMaxExtraRss));
    }
    EXPECT_EQ(caps->live_capabilities(), 0u);
    EXPECT_EQ(caps->frame_bytes_in_use(), 0u) << "every VM's frames went with it";
}

/// Within one KVM VM: map a page (a new memory slot), fault next to it, free.
TEST(Leaks, KvmSlotsComeBackAfterThousandsOfMapFreeCycles) {
    GUESTMEM_REQUIRE_KVM();
    auto g = test::GuestVm::create(BackendKind::kvm);
    ASSERT_TRUE(g);
    Vm& vm = g->vm();
    const std::size_t slots_before = kvm::memslot_usage(vm.backend())->in_use;
    const Cap frame[] = {*g->caps().allocate_frame(FrameSize::k4KiB)};
    auto cycle = [&](int i) {
        const GuestAddr at = 0x400000 + (i % 16) * 0x2000;
        auto id = vm.reserve_at(at, kPageSize, [](Fault&) { return FaultResult::error; });
        ASSERT_TRUE(id);
        ASSERT_TRUE(vm.map_frames(*id, frame, kPageBits));
        ASSERT_EQ(kvm::memslot_usage(vm.backend())->in_use, slots_before + 1);
        ASSERT_TRUE(vm.free(*id));
    };
    for (int i = 0; i < 100; ++i) cycle(i);
    const ProcessResources before = ProcessResources::now();
    const auto start = std::chrono::steady_clock::now();
    constexpr int kCycles = 10'000;
    for (int i = 0; i < kCycles; ++i) {
        cycle(i);
        if (HasFatalFailure()) return;
    }
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    const ProcessResources after = ProcessResources::now();
    report("kvm map/free in one VM", {{"cycles", double(kCycles)},
                                      {"duration_s", seconds},
                                      {"memslots_after", double(kvm::memslot_usage(vm.backend())->in_use)},
                                      {"mappings_before", double(before.mappings)},
                                      {"mappings_after", double(after.mappings)}});
    EXPECT_EQ(kvm::memslot_usage(vm.backend())->in_use, slots_before);
    EXPECT_EQ(after.fds, before.fds);
    if (kMeasureMemory) {
        EXPECT_LE(after.mappings, before.mappings + kMaxExtraMappings);
    }
    if (kMeasureMemory) {
        EXPECT_LE(static_cast<double>(after.rss) - static_cast<double>(before.rss), double(kMaxExtraRss));
    }
}

}  // namespace
}  // namespace guestmem::stress
