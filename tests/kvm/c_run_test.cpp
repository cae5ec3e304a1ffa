// SPDX-License-Identifier: BSD-2-Clause
// Guests run from C on every backend that runs them: vm_load_guest_image,
// vcpu_boot, vcpu_start, vm_run (a thread per vCPU, notifications on the
// caller's), vcpu_run, run results, vcpu_request_exit, vm_stop, target CPUs,
// and what each refuses.
#include <gtest/gtest.h>
#include <pthread.h>
#include <sched.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <mutex>
#include <set>
#include <thread>
#include <vector>

#include "guest_programs.hpp"
#include "kvm_test_support.hpp"
#include "sel4vm/boot.h"
#include "sel4vm/guest_ram.h"
#include "sel4vm/guest_vcpu_fault.h"
#include "sel4vm/guest_vm.h"
#include "sel4vm/guest_vm_exits.h"
#include "sel4vm/guest_vm_util.h"
#include "sel4vm/guestmem.h"

namespace guestmem::test {
namespace {

namespace gp = guestmem::guests;

/// What the device saw, and what it does: the test's cookie.
struct Device {
    std::mutex mutex;
    std::vector<unsigned> writers;  // vcpu_id of each write
    std::atomic<int> writes{0};
    int64_t exit_status = -1;     // >= 0: each write asks the vCPU to exit with it
    bool notify = false;          // each write notifies the VM (badge vcpu_id + 1, label 5)
    std::vector<int> pinned_cpu;  // per write: the one CPU the vCPU thread may run on, or -1
};

int only_cpu_of_this_thread() {
    cpu_set_t set;
    CPU_ZERO(&set);
    if (pthread_getaffinity_np(pthread_self(), sizeof set, &set) != 0 || CPU_COUNT(&set) != 1) return -1;
    for (int cpu = 0; cpu < CPU_SETSIZE; ++cpu) {
        if (CPU_ISSET(cpu, &set)) return cpu;
    }
    return -1;
}

memory_fault_result_t device_access(vm_t* vm, vm_vcpu_t* vcpu, uintptr_t, size_t, void* cookie) {
    auto* device = static_cast<Device*>(cookie);
    if (is_vcpu_read_fault(vcpu)) {
        set_vcpu_fault_data(vcpu, 0);
        return FAULT_HANDLED;
    }
    {
        std::lock_guard lock(device->mutex);
        device->writers.push_back(vcpu->vcpu_id);
        device->pinned_cpu.push_back(only_cpu_of_this_thread());
    }
    device->writes++;
    if (device->exit_status >= 0) {
        EXPECT_EQ(vcpu_request_exit(vcpu, device->exit_status), 0);
    }
    if (device->notify) {
        EXPECT_EQ(vm_notify(vm, vcpu->vcpu_id + 1, 5), 0);
    }
    return FAULT_HANDLED;
}

/// A VM made and run through the C interface alone: RAM at 0, the
/// access_script guest at kImage, a device at kDevice.
class CGuestRun : public GuestBackendTest {
protected:
    void SetUp() override {
        GuestBackendTest::SetUp();
        if (IsSkipped()) return;
        vm = vm_create(static_cast<vm_backend_t>(backend()));
        ASSERT_NE(vm, nullptr);
        ASSERT_EQ(vm_memory_init(vm), 0);
        ASSERT_EQ(vm_ram_register_at(vm, kRamBase, kRamSize, false), 0);
        ASSERT_NE(vm_reserve_memory_at(vm, kDevice, 8, device_access, &device), nullptr);
        uintptr_t entry = 0;
        ASSERT_EQ(vm_load_guest_image(vm, gp::access_script::image_path, kImage, &entry), 0);
        EXPECT_EQ(entry, kImage);
        EXPECT_EQ(vm->entry, kImage);
    }
    void TearDown() override {
        if (vm) vm_destroy(vm);
    }

    /// A vCPU booted to perform `ops` (its own script page) `passes` times.
    vm_vcpu_t* add_vcpu(const std::vector<ScriptOp>& ops, std::uint64_t passes = 1) {
        vm_vcpu_t* vcpu = vm_create_vcpu(vm, 0);
        EXPECT_NE(vcpu, nullptr);
        if (!vcpu) return nullptr;
        const GuestAddr script = kScripts + vcpu->vcpu_id * 0x1000;
        std::vector<ScriptOp> ended = ops;
        ended.push_back({});
        EXPECT_EQ(vm_ram_touch(vm, script, ended.size() * sizeof(ScriptOp), vm_guest_ram_write_callback, ended.data()),
                  0);
        vm_boot_spec_t boot{};
        boot.entry = kImage;
        boot.stack = kStackTop - vcpu->vcpu_id * 0x1000;
        boot.args[0] = script;
        boot.args[1] = passes;
        boot.x86_tables = kTables;
        EXPECT_EQ(vcpu_boot(vcpu, &boot), 0);
        return vcpu;
    }

    static ScriptOp write_device(std::uint64_t value = 1) { return {SCRIPT_WRITE, 4, kDevice, value, 0}; }

    vm_t* vm = nullptr;
    Device device;
};
GUESTMEM_INSTANTIATE_FOR_GUEST_BACKENDS(CGuestRun);

TEST_P(CGuestRun, VmRunRunsEveryStartedVcpuOnAThreadOfItsOwnToItsEnd) {
    vm_vcpu_t* a = add_vcpu({write_device(), write_device()});
    vm_vcpu_t* b = add_vcpu({write_device()});
    vm_vcpu_t* idle = add_vcpu({write_device()});  // never started: vm_run leaves it alone
    ASSERT_TRUE(a && b && idle);
    ASSERT_EQ(vcpu_start(a), 0);
    ASSERT_EQ(vcpu_start(b), 0);
    EXPECT_TRUE(is_vcpu_online(a));
    EXPECT_FALSE(is_vcpu_online(idle));

    ASSERT_EQ(vm_run(vm), 0);
    EXPECT_EQ(vm->run.exit_reason, VM_GUEST_UNKNOWN_EXIT);
    std::multiset<unsigned> writers(device.writers.begin(), device.writers.end());
    EXPECT_EQ(writers, (std::multiset<unsigned>{a->vcpu_id, a->vcpu_id, b->vcpu_id}));
    for (vm_vcpu_t* vcpu : {a, b}) {
        vm_run_result_t result{};
        ASSERT_EQ(vcpu_get_run_result(vcpu, &result), 0);
        EXPECT_EQ(result.reason, VM_STOP_HALTED) << result.message;
        EXPECT_GE(result.mmio_exits, 1u);
        EXPECT_STREQ(result.message, "");
    }
    vm_run_result_t none{};
    EXPECT_EQ(vcpu_get_run_result(idle, &none), -1);  // it has not run
}

TEST_P(CGuestRun, AFaultCallbackEndsTheRunWithAnExitStatus) {
    device.exit_status = 42;
    vm_vcpu_t* vcpu = add_vcpu({write_device(), write_device()});
    ASSERT_TRUE(vcpu);
    vm_run_result_t result{};
    ASSERT_EQ(vcpu_run(vcpu, &result), 0);
    EXPECT_EQ(result.reason, VM_STOP_EXITED);
    EXPECT_EQ(result.exit_status, 42);
    EXPECT_EQ(device.writes.load(), 1);  // the exit came after the first write completed
    vm_run_result_t again{};
    ASSERT_EQ(vcpu_get_run_result(vcpu, &again), 0);
    EXPECT_EQ(again.exit_status, 42);
}

TEST_P(CGuestRun, AnAccessNothingHandlesStopsTheVmInErrorAndSaysWhere) {
    constexpr GuestAddr nowhere = 0xc0000000;
    vm_vcpu_t* vcpu = add_vcpu({{SCRIPT_WRITE, 2, nowhere, 7, 0}});
    ASSERT_TRUE(vcpu);
    ASSERT_EQ(vcpu_start(vcpu), 0);
    EXPECT_EQ(vm_run(vm), -1);
    EXPECT_EQ(vm->run.exit_reason, VM_GUEST_ERROR_EXIT);
    vm_run_result_t result{};
    ASSERT_EQ(vcpu_get_run_result(vcpu, &result), 0);
    EXPECT_EQ(result.reason, VM_STOP_FAULT_ERROR);
    ASSERT_TRUE(result.has_fault);
    EXPECT_EQ(result.fault_addr, nowhere);
    EXPECT_EQ(result.fault_size, 2u);
    EXPECT_TRUE(result.fault_is_write);
    EXPECT_NE(std::strlen(result.message), 0u);
}

TEST_P(CGuestRun, TheUnhandledFaultCallbackIsKeptInTheVmAndCalled) {
    constexpr GuestAddr nowhere = 0xc0000000;
    ASSERT_EQ(vm_register_unhandled_mem_fault_callback(vm, device_access, &device), 0);
    EXPECT_EQ(vm->mem.unhandled_mem_fault_handler, &device_access);
    EXPECT_EQ(vm->mem.unhandled_mem_fault_cookie, &device);
    vm_vcpu_t* vcpu = add_vcpu({{SCRIPT_WRITE, 4, nowhere, 7, 0}});
    ASSERT_TRUE(vcpu);
    vm_run_result_t result{};
    ASSERT_EQ(vcpu_run(vcpu, &result), 0) << result.message;
    EXPECT_EQ(device.writes.load(), 1);
}

TEST_P(CGuestRun, NotificationsReachTheCallbackOnVmRunsThreadInOrder) {
    struct Seen {
        std::thread::id thread;
        std::vector<std::pair<seL4_Word, seL4_Word>> notes;
    } seen;
    ASSERT_EQ(vm_register_notification_callback(
                  vm,
                  [](vm_t*, seL4_Word badge, seL4_MessageInfo_t tag, void* cookie) {
                      auto* s = static_cast<Seen*>(cookie);
                      s->thread = std::this_thread::get_id();
                      s->notes.emplace_back(badge, seL4_MessageInfo_get_label(tag));
                      return 0;
                  },
                  &seen),
              0);
    EXPECT_NE(vm->run.notification_callback, nullptr);
    device.notify = true;
    vm_vcpu_t* vcpu = add_vcpu({write_device(), write_device(), write_device()});
    ASSERT_TRUE(vcpu);
    ASSERT_EQ(vm_notify(vm, 99, 1), 0);  // before vm_run: kept for it
    ASSERT_EQ(vcpu_start(vcpu), 0);
    ASSERT_EQ(vm_run(vm), 0);
    // Every notification delivered before the vCPU stopped is handled before vm_run returns.
    const seL4_Word badge = vcpu->vcpu_id + 1;
    using Note = std::pair<seL4_Word, seL4_Word>;
    EXPECT_EQ(seen.notes, (std::vector<Note>{{99, 1}, {badge, 5}, {badge, 5}, {badge, 5}}));
    EXPECT_EQ(seen.thread, std::this_thread::get_id());
}

TEST_P(CGuestRun, ANotificationCallbackThatFailsStopsTheVm) {
    ASSERT_EQ(vm_register_notification_callback(
                  vm, [](vm_t*, seL4_Word, seL4_MessageInfo_t, void*) { return -1; }, nullptr),
              0);
    device.notify = true;
    vm_vcpu_t* vcpu = add_vcpu({write_device()}, std::uint64_t{1} << 40);  // would run for hours
    ASSERT_TRUE(vcpu);
    ASSERT_EQ(vcpu_start(vcpu), 0);
    EXPECT_EQ(vm_run(vm), -1);
    EXPECT_EQ(vm->run.exit_reason, VM_GUEST_ERROR_EXIT);
    vm_run_result_t result{};
    ASSERT_EQ(vcpu_get_run_result(vcpu, &result), 0);
    EXPECT_EQ(result.reason, VM_STOP_STOPPED);
}

TEST_P(CGuestRun, VmStopFromAnotherThreadEndsVmRunWell) {
    vm_vcpu_t* vcpu = add_vcpu({write_device()}, std::uint64_t{1} << 40);
    ASSERT_TRUE(vcpu);
    ASSERT_EQ(vcpu_start(vcpu), 0);
    std::thread stopper([&] {
        while (device.writes.load() < 3) std::this_thread::sleep_for(std::chrono::milliseconds(1));
        EXPECT_EQ(vm_stop(vm), 0);
    });
    EXPECT_EQ(vm_run(vm), 0);
    stopper.join();
    EXPECT_EQ(vm->run.exit_reason, VM_GUEST_UNKNOWN_EXIT);
    vm_run_result_t result{};
    ASSERT_EQ(vcpu_get_run_result(vcpu, &result), 0);
    EXPECT_EQ(result.reason, VM_STOP_STOPPED);
}

TEST_P(CGuestRun, WhileVmRunRunsItCannotRunAgainNorBeDestroyed) {
    struct Probe {
        vm_vcpu_t* vcpu = nullptr;
        int run_again = 0, destroy_refused = 0, vcpu_run_again = 0;
    } probe;
    ASSERT_EQ(vm_register_notification_callback(
                  vm,
                  [](vm_t* v, seL4_Word, seL4_MessageInfo_t, void* cookie) {
                      auto* p = static_cast<Probe*>(cookie);
                      p->run_again = vm_run(v);
                      vm_destroy(v);                         // refused: vm_run runs on it
                      p->destroy_refused = vm_stop(v) == 0;  // the handle is still live
                      vm_run_result_t r;
                      p->vcpu_run_again = vcpu_run(p->vcpu, &r);
                      return 0;
                  },
                  &probe),
              0);
    device.notify = true;
    probe.vcpu = add_vcpu({write_device()}, std::uint64_t{1} << 40);
    ASSERT_TRUE(probe.vcpu);
    ASSERT_EQ(vcpu_start(probe.vcpu), 0);
    EXPECT_EQ(vm_run(vm), 0);
    EXPECT_EQ(probe.run_again, -1);
    EXPECT_EQ(probe.destroy_refused, 1);  // the VM lived on: vm_stop on it worked
    EXPECT_EQ(probe.vcpu_run_again, -1);
    EXPECT_EQ(vcpu_start(probe.vcpu), -1);  // started already
}

TEST_P(CGuestRun, VmRunRefusesAVmWithNoStartedVcpu) {
    ASSERT_TRUE(add_vcpu({write_device()}));
    EXPECT_EQ(vm_run(vm), -1);
    EXPECT_EQ(device.writes.load(), 0);
    EXPECT_EQ(vm->run.exit_reason, 0);  // no run happened
}

TEST_P(CGuestRun, AVcpuAssignedToATargetCpuRunsPinnedToIt) {
    vm_vcpu_t* vcpu = add_vcpu({write_device()});
    ASSERT_TRUE(vcpu);
    const int target = static_cast<int>(std::thread::hardware_concurrency()) - 1;
    ASSERT_EQ(vm_assign_vcpu_target(vcpu, target), 0);
    EXPECT_EQ(vcpu->target_cpu, target);
    EXPECT_EQ(vm_vcpu_for_target_cpu(vm, target), vcpu);
    ASSERT_EQ(vcpu_start(vcpu), 0);
    ASSERT_EQ(vm_run(vm), 0);
    ASSERT_EQ(device.pinned_cpu.size(), 1u);
    EXPECT_EQ(device.pinned_cpu[0], target);
}

TEST_P(CGuestRun, AFlatImageLoadsAtTheAddressGivenAndOneThatDoesNotFitIsRefused) {
    // The flat image was loaded at kImage in SetUp; the same bytes elsewhere too.
    // (ELF images: the CExample tests run hello.elf on each backend.)
    uintptr_t entry = 0;
    ASSERT_EQ(vm_load_guest_image(vm, gp::access_script::image_path, 0x40000, &entry), 0);
    EXPECT_EQ(entry, 0x40000u);
    EXPECT_EQ(vm->entry, 0x40000u);
    std::vector<std::uint8_t> a(64), b(64);
    ASSERT_EQ(vm_ram_touch(vm, kImage, a.size(), vm_guest_ram_read_callback, a.data()), 0);
    ASSERT_EQ(vm_ram_touch(vm, 0x40000, b.size(), vm_guest_ram_read_callback, b.data()), 0);
    EXPECT_EQ(a, b);
    // An image that does not fit in RAM is refused with the reason.
    EXPECT_EQ(vm_load_guest_image(vm, gp::access_script::image_path, kRamSize - 16, &entry), -1);
    EXPECT_EQ(vm_load_guest_image(vm, "/nonexistent/guest.elf", kImage, &entry), -1);
    EXPECT_EQ(vm_load_guest_image(vm, nullptr, kImage, &entry), -1);
}

}  // namespace
}  // namespace guestmem::test
