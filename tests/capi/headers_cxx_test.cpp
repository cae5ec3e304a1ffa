// SPDX-License-Identifier: BSD-2-Clause
// Every <sel4vm/...> header together in C++ (each one alone is compiled as C
// and as C++ by the generated sources in tests/CMakeLists.txt), with the
// signatures of libsel4vm's interface (and guestmem.h's) checked at compile time.
#include <gtest/gtest.h>

#include <type_traits>

#include "sel4vm/arch/guest_vm_arch.h"
#include "sel4vm/arch/guest_x86_context.h"
#include "sel4vm/arch/ioports.h"
#include "sel4vm/arch/vmcall.h"
#include "sel4vm/guest_memory.h"
#include "sel4vm/guest_memory_helpers.h"
#include "sel4vm/guest_vcpu_fault.h"
#include "sel4vm/guest_vm.h"
#include "sel4vm/guestmem.h"
#include "sel4vm/sel4_compat.h"

namespace {

template <class Expected, class Actual>
constexpr bool same_type(Actual) {
    return std::is_same_v<Expected, Actual>;
}

static_assert(same_type<vm_memory_reservation_t* (*)(vm_t*, uintptr_t, size_t, memory_fault_callback_fn, void*)>(
    &vm_reserve_memory_at));
static_assert(same_type<vm_memory_reservation_t* (*)(vm_t*, size_t, size_t, memory_fault_callback_fn, void*,
                                                     uintptr_t*)>(&vm_reserve_anon_memory));
static_assert(same_type<int (*)(vm_t*, uintptr_t, size_t)>(&vm_memory_make_anon));
static_assert(same_type<int (*)(vm_t*, vm_memory_reservation_t*)>(&vm_free_reserved_memory));
static_assert(same_type<int (*)(vm_t*, vm_memory_reservation_t*, memory_map_iterator_fn, void*)>(&vm_map_reservation));
static_assert(
    same_type<int (*)(vm_t*, vm_memory_reservation_t*, seL4_CPtr*, size_t, size_t)>(&vm_map_reservation_frames));
static_assert(same_type<void (*)(vm_memory_reservation_t*, uintptr_t*, size_t*)>(&vm_get_reservation_memory_region));
static_assert(same_type<int (*)(vm_t*)>(&vm_memory_init));
static_assert(
    std::is_same_v<memory_fault_callback_fn, memory_fault_result_t (*)(vm_t*, vm_vcpu_t*, uintptr_t, size_t, void*)>);
static_assert(std::is_same_v<memory_map_iterator_fn, vm_frame_t (*)(uintptr_t, void*)>);
static_assert(same_type<memory_fault_callback_fn>(&default_error_fault_callback));
static_assert(same_type<seL4_Word (*)(vm_vcpu_t*)>(&get_vcpu_fault_address));
static_assert(same_type<seL4_Word (*)(vm_vcpu_t*)>(&get_vcpu_fault_ip));
static_assert(same_type<seL4_Word (*)(vm_vcpu_t*)>(&get_vcpu_fault_data));
static_assert(same_type<seL4_Word (*)(vm_vcpu_t*)>(&get_vcpu_fault_data_mask));
static_assert(same_type<size_t (*)(vm_vcpu_t*)>(&get_vcpu_fault_size));
static_assert(same_type<bool (*)(vm_vcpu_t*)>(&is_vcpu_read_fault));
static_assert(same_type<int (*)(vm_vcpu_t*, seL4_Word)>(&set_vcpu_fault_data));
static_assert(same_type<seL4_Word (*)(vm_vcpu_t*, seL4_Word)>(&emulate_vcpu_fault));
static_assert(same_type<void (*)(vm_vcpu_t*)>(&advance_vcpu_fault));
static_assert(same_type<void (*)(vm_vcpu_t*)>(&restart_vcpu_fault));
static_assert(same_type<vm_t* (*)(vm_backend_t)>(&vm_create));
static_assert(same_type<void (*)(vm_t*)>(&vm_destroy));
static_assert(same_type<vm_vcpu_t* (*)(vm_t*, int)>(&vm_create_vcpu));
static_assert(same_type<int (*)(vm_t*, memory_fault_callback_fn, void*)>(&vm_register_unhandled_mem_fault_callback));
static_assert(same_type<void (*)(vm_t*, bool)>(&vm_set_deferred_mapping));
static_assert(same_type<seL4_CPtr (*)(size_t)>(&vmm_frame_alloc));
static_assert(same_type<seL4_CPtr (*)(seL4_CPtr, seL4_CapRights_t)>(&vmm_cap_copy));
static_assert(same_type<int (*)(seL4_CPtr)>(&vmm_cap_delete));
static_assert(same_type<void* (*)(seL4_CPtr)>(&vmm_frame_vaddr));
static_assert(same_type<int (*)(vm_vcpu_t*, uintptr_t, size_t, bool, uint64_t*)>(&vm_sim_access));

static_assert(FAULT_HANDLED == 0 && FAULT_UNHANDLED == 1 && FAULT_RESTART == 2 && FAULT_IGNORE == 3 &&
              FAULT_ERROR == 4);
static_assert(VM_BACKEND_SIM == 0 && VM_BACKEND_KVM == 1 && VM_BACKEND_EMU == 2 && VM_BACKEND_AUTO == 3);
static_assert(seL4_PageBits == 12 && seL4_LargePageBits == 21 && seL4_HugePageBits == 30);
static_assert(seL4_CapNull == 0);
static_assert(std::is_same_v<decltype(vm_frame_t::cptr), seL4_CPtr>);
static_assert(std::is_same_v<decltype(vm_frame_t::rights), seL4_CapRights_t>);
static_assert(std::is_same_v<decltype(vm_frame_t::vaddr), uintptr_t>);
static_assert(std::is_same_v<decltype(vm_frame_t::size_bits), size_t>);
// The x86 context header's names are macros for the x86-64 functions.
static_assert(same_type<int (*)(vm_vcpu_t*, seL4_VCPUContext)>(&vm_set_thread_context));
static_assert(same_type<int (*)(vm_vcpu_t*, vcpu_context_reg_t, seL4_Word)>(&vm_set_thread_context_reg));
static_assert(same_type<int (*)(vm_vcpu_t*, seL4_VCPUContext*)>(&vm_get_thread_context));
static_assert(same_type<int (*)(vm_vcpu_t*, vcpu_context_reg_t, seL4_Word*)>(&vm_get_thread_context_reg));
static_assert(same_type<int (*)(vm_vcpu_t*, seL4_Word, seL4_Word)>(&vm_set_vmcs_field));
static_assert(same_type<int (*)(vm_vcpu_t*, seL4_Word, seL4_Word*)>(&vm_get_vmcs_field));
static_assert(same_type<int (*)(vm_t*, vm_ioport_range_t, vm_ioport_interface_t)>(&vm_io_port_add_handler));
static_assert(same_type<int (*)(vm_t*, unhandled_ioport_callback_fn, void*)>(&vm_register_unhandled_ioport_callback));
static_assert(same_type<int (*)(vm_vcpu_t*, uint16_t, size_t, bool, uint32_t*)>(&vm_sim_port_access));

TEST(Headers, RightsHelpersWorkInCxx) {
    const seL4_CapRights_t rw = seL4_CapRights_new(0, 0, 1, 1);
    EXPECT_EQ(rw.words[0], 3u);
    EXPECT_EQ(seL4_CapRights_get_capAllowRead(seL4_CanRead), 1u);
    EXPECT_EQ(seL4_CapRights_get_capAllowWrite(seL4_CanRead), 0u);
    EXPECT_EQ(seL4_AllRights.words[0], 0xfu);
}

}  // namespace
