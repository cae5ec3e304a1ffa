// SPDX-License-Identifier: BSD-2-Clause
// <sel4vm/guestmem.h>: VMs, vCPUs, frames and the sim backend for C callers.
#include "sel4vm/guestmem.h"

#include <string>

#include "guestmem/log.hpp"
#include "guestmem/sim.hpp"
#include "handles.hpp"

using namespace guestmem;
using guestmem::capi::live_vm;

extern "C" {

// vm_create passes the C value on as a BackendKind.
static_assert(static_cast<int>(BackendKind::sim) == VM_BACKEND_SIM &&
              static_cast<int>(BackendKind::kvm) == VM_BACKEND_KVM &&
              static_cast<int>(BackendKind::emu) == VM_BACKEND_EMU &&
              static_cast<int>(BackendKind::automatic) == VM_BACKEND_AUTO);

vm_t* vm_create(vm_backend_t backend) {
    ApiCall call(__func__);
    // Vm::create checks the value and logs why a backend is unavailable.
    auto core = Vm::create(static_cast<BackendKind>(backend), capi::process_capabilities());
    if (!core) return nullptr;
    auto handle = std::make_unique<vm_t>();
    handle->core = std::move(*core);
    handle->core->set_user_data(handle.get());
    capi::register_vm(handle.get());
    return handle.release();  // owned by the caller until vm_destroy
}

void vm_destroy(vm_t* vm) {
    ApiCall call(__func__);
    if (!live_vm(vm)) return;
    capi::forget_vm(vm);
    std::unique_ptr<vm_t> owned(vm);
    owned->core.reset();  // frees reservations while the vCPU views still exist
}

vm_vcpu_t* vm_create_vcpu(vm_t* vm) {
    ApiCall call(__func__);
    Vm* core = live_vm(vm);
    if (!core) return nullptr;
    auto vcpu = core->create_vcpu();
    if (!vcpu) return nullptr;
    auto handle = std::make_unique<vm_vcpu_t>();
    handle->core = *vcpu;
    handle->owner = vm;
    (*vcpu)->set_user_data(handle.get());
    vm_vcpu_t* view = handle.get();
    std::lock_guard lock(vm->vcpus_mutex);
    vm->vcpus.push_back(std::move(handle));
    return view;
}

int vm_register_unhandled_mem_fault_callback(vm_t* vm, memory_fault_callback_fn cb, void* cookie) {
    ApiCall call(__func__);
    Vm* core = live_vm(vm);
    if (!core) return -1;
    if (!capi::present(cb, "callback")) return -1;
    core->set_unhandled_fault_handler(capi::wrap_callback(cb, cookie));
    return 0;
}

void vm_set_deferred_mapping(vm_t* vm, bool deferred) {
    ApiCall call(__func__);
    if (Vm* core = live_vm(vm)) core->set_deferred_mapping(deferred);
}

seL4_CPtr vmm_frame_alloc(size_t size_bits) {
    ApiCall call(__func__);
    auto size = frame_size_from_bits(size_bits);
    if (!size) {
        (void)fail(Errc::invalid_argument, "size_bits " + std::to_string(size_bits) + " is not 12, 21 or 30");
        return seL4_CapNull;
    }
    auto cap = capi::process_capabilities()->allocate_frame(*size);
    return cap ? *cap : seL4_CapNull;
}

seL4_CPtr vmm_cap_copy(seL4_CPtr cap, seL4_CapRights_t rights) {
    ApiCall call(__func__);
    auto copy = capi::process_capabilities()->copy(cap, capi::rights_of(rights));
    return copy ? *copy : seL4_CapNull;
}

int vmm_cap_delete(seL4_CPtr cap) {
    ApiCall call(__func__);
    return capi::process_capabilities()->remove(cap) ? 0 : -1;
}

void* vmm_frame_vaddr(seL4_CPtr cap) {
    ApiCall call(__func__);
    auto memory = capi::process_capabilities()->frame_memory(cap);
    return memory ? static_cast<void*>(memory->data()) : nullptr;
}

int vm_sim_access(vm_vcpu_t* vcpu, uintptr_t addr, size_t len, bool is_write, uint64_t* data) {
    ApiCall call(__func__);
    if (!vcpu || !vcpu->core) {
        (void)fail(Errc::invalid_argument, "vcpu is NULL");
        return -1;
    }
    if (!capi::present(data, "data")) return -1;
    // sim::read and sim::write check len (1, 2, 4 or 8), naming this function.
    if (is_write) return sim::write(*vcpu->core, addr, len, *data) ? 0 : -1;
    auto value = sim::read(*vcpu->core, addr, len);
    if (!value) return -1;
    *data = *value;
    return 0;
}

void guestmem_set_log_handler(guestmem_log_fn fn, void* cookie) {
    if (!fn) {
        set_log_handler(nullptr);
        return;
    }
    set_log_handler([fn, cookie](LogLevel level, std::string_view message) {
        const std::string line(message);
        fn(static_cast<guestmem_log_level_t>(level), line.c_str(), cookie);
    });
}

}  // extern "C"
