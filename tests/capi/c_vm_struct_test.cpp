// SPDX-License-Identifier: BSD-2-Clause
// The public struct vm and struct vm_vcpu (<sel4vm/guest_vm.h>) stay true to
// the VM: vCPUs, RAM regions, callbacks, names, targets; and the calls of
// boot.h, guest_vm_util.h and guest_vm.h refuse what they must, changing
// nothing. Guests that run: tests/kvm/c_run_test.cpp.
#include <gtest/gtest.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "capi_support.hpp"
#include "sel4vm/boot.h"
#include "sel4vm/guest_ram.h"
#include "sel4vm/guest_vm.h"
#include "sel4vm/guest_vm_exits.h"
#include "sel4vm/guest_vm_util.h"
#include "sel4vm/guestmem.h"

namespace guestmem::test {
namespace {

struct Region {
    uintptr_t start;
    size_t size;
    int allocated;
    friend bool operator==(const Region&, const Region&) = default;
};

std::vector<Region> regions_of(const vm_t* vm) {
    std::vector<Region> out;
    for (int i = 0; i < vm->mem.num_ram_regions; ++i) {
        const vm_ram_region_t& r = vm->mem.ram_regions[i];
        out.push_back({r.start, r.size, r.allocated});
    }
    return out;
}

TEST(CVmStruct, AFreshVmHasANameAnIdAndNothingElse) {
    vm_t* a = vm_create(VM_BACKEND_SIM);
    vm_t* b = vm_create(VM_BACKEND_SIM);
    ASSERT_TRUE(a && b);
    EXPECT_EQ(b->vm_id, a->vm_id + 1);
    EXPECT_EQ(std::string(a->vm_name), "vm" + std::to_string(a->vm_id));
    EXPECT_EQ(a->num_vcpus, 0u);
    EXPECT_EQ(a->vcpus[0], nullptr);
    EXPECT_EQ(a->mem.num_ram_regions, 0);
    EXPECT_EQ(a->mem.ram_regions, nullptr);
    EXPECT_EQ(a->mem.unhandled_mem_fault_handler, nullptr);
    EXPECT_EQ(a->io_ops, nullptr);
    EXPECT_EQ(a->entry, 0u);
    EXPECT_EQ(a->run.exit_reason, 0);
    EXPECT_FALSE(a->vm_initialised);
    ASSERT_EQ(vm_memory_init(a), 0);
    EXPECT_TRUE(a->vm_initialised);
    EXPECT_EQ(vm_get_arch(a), host_arch() == Arch::aarch64 ? VM_ARCH_AARCH64 : VM_ARCH_X86_64);
    vm_destroy(a);
    vm_destroy(b);
}

TEST(CVmStruct, VcpusAndNumVcpusFollowVmCreateVcpu) {
    CVm c;  // one vCPU already
    EXPECT_EQ(c.vm->num_vcpus, 1u);
    EXPECT_EQ(c.vm->vcpus[BOOT_VCPU], c.vcpu);
    EXPECT_EQ(c.vcpu->vm, c.vm);
    EXPECT_EQ(c.vcpu->vcpu_id, 0u);
    EXPECT_EQ(c.vcpu->target_cpu, -1);
    EXPECT_FALSE(c.vcpu->vcpu_online);
    EXPECT_EQ(c.vcpu->tcb.priority, 0);

    vm_vcpu_t* second = vm_create_vcpu(c.vm, 255);
    ASSERT_NE(second, nullptr);
    EXPECT_EQ(c.vm->num_vcpus, 2u);
    EXPECT_EQ(c.vm->vcpus[1], second);
    EXPECT_EQ(second->vcpu_id, 1u);
    EXPECT_EQ(second->tcb.priority, 255);
    EXPECT_EQ(c.vm->vcpus[2], nullptr);
}

TEST(CVmStruct, VmCreateVcpuRefusesAPriorityOutOfSeL4sRangeAndAVmThatIsFull) {
    CLogCapture log;
    CVm c;
    EXPECT_EQ(vm_create_vcpu(c.vm, -1), nullptr);
    EXPECT_TRUE(log.has_error("vm_create_vcpu", "priority -1 is not in seL4's range 0 to 255"));
    EXPECT_EQ(vm_create_vcpu(c.vm, 256), nullptr);
    EXPECT_EQ(c.vm->num_vcpus, 1u);
    while (c.vm->num_vcpus < GUESTMEM_MAX_VCPUS) ASSERT_NE(vm_create_vcpu(c.vm, 0), nullptr);
    EXPECT_EQ(vm_create_vcpu(c.vm, 0), nullptr);
    EXPECT_TRUE(log.has_error("vm_create_vcpu", "GUESTMEM_MAX_VCPUS"));
    EXPECT_EQ(c.vm->num_vcpus, static_cast<unsigned>(GUESTMEM_MAX_VCPUS));
    EXPECT_EQ(c.core().vcpu_count(), static_cast<std::size_t>(GUESTMEM_MAX_VCPUS));
}

TEST(CVmStruct, RamRegionsListEveryRegisteredRangeSplitIntoAllocatedAndFreePieces) {
    CVm c;
    ASSERT_EQ(vm_ram_register_at(c.vm, 0x100000, 0x10000, false), 0);
    EXPECT_EQ(regions_of(c.vm), (std::vector<Region>{{0x100000, 0x10000, 0}}));
    vm_ram_mark_allocated(c.vm, 0x104000, 0x2000);
    EXPECT_EQ(regions_of(c.vm),
              (std::vector<Region>{{0x100000, 0x4000, 0}, {0x104000, 0x2000, 1}, {0x106000, 0xa000, 0}}));
    uintptr_t at = 0;
    ASSERT_EQ(vm_ram_allocate_checked(c.vm, 0x4000, 0x1000, &at), 0);
    ASSERT_EQ(vm_ram_register_at(c.vm, 0x400000, 0x1000, false), 0);
    vm_ram_free(c.vm, 0x104000, 0x2000);
    std::uint64_t allocated = 0, total = 0;
    for (const Region& r : regions_of(c.vm)) {
        total += r.size;
        if (r.allocated) allocated += r.size;
    }
    EXPECT_EQ(total, 0x11000u);
    EXPECT_EQ(allocated, 0x4000u);  // what vm_ram_allocate_checked took
    EXPECT_EQ(regions_of(c.vm).back(), (Region{0x400000, 0x1000, 0}));
    // A refused call leaves the list as it was.
    const auto before = regions_of(c.vm);
    EXPECT_NE(vm_ram_register_at(c.vm, 0x400000, 0x1000, false), 0);
    EXPECT_EQ(regions_of(c.vm), before);
}

TEST(CVmStruct, TargetCpusAreCheckedUniqueAndFound) {
    CLogCapture log;
    CVm c;
    vm_vcpu_t* second = vm_create_vcpu(c.vm, 0);
    ASSERT_NE(second, nullptr);
    EXPECT_EQ(vm_find_free_unassigned_vcpu(c.vm), c.vcpu);
    ASSERT_EQ(vm_assign_vcpu_target(c.vcpu, 0), 0);
    EXPECT_EQ(vm_vcpu_for_target_cpu(c.vm, 0), c.vcpu);
    EXPECT_EQ(vm_find_free_unassigned_vcpu(c.vm), second);
    EXPECT_EQ(vm_assign_vcpu_target(second, 0), -1);
    EXPECT_TRUE(log.has_error("vm_assign_vcpu_target", "vCPU 0 is assigned to CPU 0 already"));
    EXPECT_EQ(second->target_cpu, -1);
    const long cpus = ::sysconf(_SC_NPROCESSORS_CONF);
    EXPECT_EQ(vm_assign_vcpu_target(second, static_cast<int>(cpus)), -1);
    EXPECT_EQ(vm_assign_vcpu_target(second, -1), -1);
    EXPECT_TRUE(log.has_error("vm_assign_vcpu_target", "is not a host CPU"));
    EXPECT_EQ(vm_vcpu_for_target_cpu(c.vm, 5000), nullptr);
    EXPECT_EQ(vm_assign_vcpu_target(c.vcpu, 0), 0);  // its own CPU again: fine
}

TEST(CVmStruct, NamesArePrintableAndBounded) {
    CLogCapture log;
    CVm c;
    const std::string before = c.vm->vm_name;
    EXPECT_EQ(vm_set_name(c.vm, ""), -1);
    EXPECT_EQ(vm_set_name(c.vm, std::string(64, 'x').c_str()), -1);
    EXPECT_EQ(vm_set_name(c.vm, "tab\there"), -1);
    EXPECT_EQ(vm_set_name(c.vm, nullptr), -1);
    EXPECT_TRUE(log.has_error("vm_set_name", "name must be printable ASCII"));
    EXPECT_EQ(std::string(c.vm->vm_name), before);
    ASSERT_EQ(vm_set_name(c.vm, std::string(63, 'y').c_str()), 0);
    EXPECT_EQ(std::string(c.vm->vm_name), std::string(63, 'y'));
}

TEST(CVmStruct, CallbacksAreStoredInTheStruct) {
    CVm c;
    int cookie = 0;
    ASSERT_EQ(vm_register_unhandled_mem_fault_callback(c.vm, default_error_fault_callback, &cookie), 0);
    EXPECT_EQ(c.vm->mem.unhandled_mem_fault_handler, &default_error_fault_callback);
    EXPECT_EQ(c.vm->mem.unhandled_mem_fault_cookie, &cookie);
    auto note = [](vm_t*, seL4_Word, seL4_MessageInfo_t, void*) { return 0; };
    ASSERT_EQ(vm_register_notification_callback(c.vm, note, &cookie), 0);
    EXPECT_NE(c.vm->run.notification_callback, nullptr);
    EXPECT_EQ(c.vm->run.notification_callback_cookie, &cookie);
    EXPECT_EQ(vm_notify(c.vm, 1, 2), 0);  // kept for the next vm_run
}

TEST(CVmStruct, VcpuStartMarksItOnlineOnce) {
    CLogCapture log;
    CVm c;
    ASSERT_EQ(vcpu_start(c.vcpu), 0);
    EXPECT_TRUE(c.vcpu->vcpu_online);
    EXPECT_TRUE(is_vcpu_online(c.vcpu));
    EXPECT_EQ(vcpu_start(c.vcpu), -1);
    EXPECT_TRUE(log.has_error("vcpu_start", "vCPU 0 is started already"));
}

TEST(CVmStruct, OnTheSimBackendVmRunReportsThatNoGuestCodeRuns) {
    CLogCapture log;
    CVm c;
    ASSERT_EQ(vcpu_start(c.vcpu), 0);
    EXPECT_EQ(vm_run(c.vm), -1);
    EXPECT_EQ(c.vm->run.exit_reason, VM_GUEST_ERROR_EXIT);
    vm_run_result_t result{};
    ASSERT_EQ(vcpu_get_run_result(c.vcpu, &result), 0);
    EXPECT_EQ(result.reason, VM_STOP_INTERNAL_ERROR);
    EXPECT_NE(std::string(result.message).find("the sim backend runs no guest code"), std::string::npos);
    EXPECT_EQ(vcpu_run(c.vcpu, &result), -1);
}

TEST(CVmStruct, ForgedNullAndDestroyedHandlesAreRefusedByEveryCall) {
    CLogCapture log;
    vm_vcpu_t forged_vcpu{};
    vm_t forged_vm{};
    vm_t* dead = vm_create(VM_BACKEND_SIM);
    ASSERT_NE(dead, nullptr);
    vm_vcpu_t* dead_vcpu = vm_create_vcpu(dead, 0);
    ASSERT_NE(dead_vcpu, nullptr);
    vm_destroy(dead);
    vm_run_result_t result{};
    vm_boot_spec_t boot{};
    for (vm_vcpu_t* vcpu : {static_cast<vm_vcpu_t*>(nullptr), &forged_vcpu, dead_vcpu}) {
        EXPECT_EQ(vcpu_start(vcpu), -1);
        EXPECT_EQ(vcpu_run(vcpu, &result), -1);
        EXPECT_EQ(vcpu_get_run_result(vcpu, &result), -1);
        EXPECT_EQ(vcpu_request_exit(vcpu, 1), -1);
        EXPECT_EQ(vcpu_boot(vcpu, &boot), -1);
        EXPECT_EQ(vm_assign_vcpu_target(vcpu, 0), -1);
        EXPECT_FALSE(is_vcpu_online(vcpu));
        EXPECT_EQ(get_vcpu_fault_address(vcpu), 0u);
    }
    for (vm_t* vm : {static_cast<vm_t*>(nullptr), &forged_vm, dead}) {
        EXPECT_EQ(vm_run(vm), -1);
        EXPECT_EQ(vm_stop(vm), -1);
        EXPECT_EQ(vm_notify(vm, 1, 1), -1);
        EXPECT_EQ(vm_set_name(vm, "x"), -1);
        EXPECT_EQ(vm_create_vcpu(vm, 0), nullptr);
        EXPECT_EQ(vm_vcpu_for_target_cpu(vm, 0), nullptr);
        EXPECT_EQ(vm_find_free_unassigned_vcpu(vm), nullptr);
        EXPECT_EQ(vm_register_notification_callback(
                      vm, [](vm_t*, seL4_Word, seL4_MessageInfo_t, void*) { return 0; }, nullptr),
                  -1);
        EXPECT_EQ(vm_load_guest_image(vm, "/dev/null", 0, nullptr), -1);
    }
    EXPECT_TRUE(log.has_error("vcpu_start", "vcpu is NULL"));
    EXPECT_TRUE(log.has_error("vcpu_run", "vcpu is not a live vCPU handle"));
    EXPECT_TRUE(log.has_error("vm_run", "vm is not a live VM handle"));
    EXPECT_EQ(forged_vm.num_vcpus, 0u);  // never written
}

TEST(CVmStruct, CallsWithoutTheirCallbackOrArgumentAreRefused) {
    CLogCapture log;
    CVm c;
    EXPECT_EQ(vm_register_notification_callback(c.vm, nullptr, nullptr), -1);
    EXPECT_EQ(vm_notify(c.vm, 1, 1), -1);
    EXPECT_TRUE(log.has_error("vm_notify", "the VM has no notification callback"));
    EXPECT_EQ(vcpu_boot(c.vcpu, nullptr), -1);
    EXPECT_EQ(vcpu_get_run_result(c.vcpu, nullptr), -1);
    vm_run_result_t result{};
    EXPECT_EQ(vcpu_get_run_result(c.vcpu, &result), -1);
    EXPECT_TRUE(log.has_error("vcpu_get_run_result", "vCPU 0 has not run yet"));
    EXPECT_EQ(vm_create_arch(VM_BACKEND_SIM, static_cast<vm_arch_t>(7)), nullptr);
    EXPECT_TRUE(log.has_error("vm_create_arch", "arch 7 is not VM_ARCH_X86_64 or VM_ARCH_AARCH64"));
    EXPECT_EQ(vm_x86_boot_tables_size(0), vm_x86_boot_tables_size(std::uint64_t{4} << 30));
}

}  // namespace
}  // namespace guestmem::test
