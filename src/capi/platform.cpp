// SPDX-License-Identifier: BSD-2-Clause
// <sel4vm/guestmem.h>: VMs, vCPUs, frames and the sim backend for C callers.
#include "sel4vm/guestmem.h"

#include <sched.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstring>
#include <string>
#include <string_view>

#include "guestmem/log.hpp"
#include "guestmem/sim.hpp"
#include "handles.hpp"

using namespace guestmem;
using guestmem::capi::live_vm;

namespace {

/// seL4's highest thread priority (seL4_MaxPrio).
constexpr int kMaxPriority = 255;
/// vm_set_name's longest name.
constexpr std::size_t kMaxNameBytes = 63;

/// Numbers the VMs of the process (vm->vm_id).
std::atomic<unsigned> next_vm_id{0};

vm_t* create_vm(vm_backend_t backend, Arch arch) {
    // Vm::create checks the value and logs why a backend is unavailable.
    auto core = Vm::create(static_cast<BackendKind>(backend), capi::process_capabilities(), arch);
    if (!core) return nullptr;
    auto handle = std::make_unique<capi::VmHandle>();
    handle->core = std::move(*core);
    handle->core->set_user_data(handle.get());
    handle->view.vm_id = next_vm_id.fetch_add(1);
    handle->name = "vm" + std::to_string(handle->view.vm_id);
    handle->view.vm_name = handle->name.data();
    capi::register_vm(handle.get());
    return &handle.release()->view;  // owned by the caller until vm_destroy
}

}  // namespace

extern "C" {

// vm_create passes the C value on as a BackendKind.
static_assert(static_cast<int>(BackendKind::sim) == VM_BACKEND_SIM &&
              static_cast<int>(BackendKind::kvm) == VM_BACKEND_KVM &&
              static_cast<int>(BackendKind::emu) == VM_BACKEND_EMU &&
              static_cast<int>(BackendKind::automatic) == VM_BACKEND_AUTO);

vm_t* vm_create(vm_backend_t backend) {
    ApiCall call(__func__);
    return create_vm(backend, host_arch());
}

vm_t* vm_create_arch(vm_backend_t backend, vm_arch_t arch) {
    ApiCall call(__func__);
    if (arch != VM_ARCH_X86_64 && arch != VM_ARCH_AARCH64) {
        (void)fail(Errc::invalid_argument,
                   "arch " + std::to_string(static_cast<int>(arch)) + " is not VM_ARCH_X86_64 or VM_ARCH_AARCH64");
        return nullptr;
    }
    return create_vm(backend, arch == VM_ARCH_AARCH64 ? Arch::aarch64 : Arch::x86_64);
}

vm_arch_t vm_get_arch(vm_t* vm) {
    ApiCall call(__func__);
    Vm* core = live_vm(vm);
    return core && core->backend().arch() == Arch::aarch64 ? VM_ARCH_AARCH64 : VM_ARCH_X86_64;
}

void vm_destroy(vm_t* vm) {
    ApiCall call(__func__);
    capi::VmHandle* handle = capi::live_vm_handle(vm);
    if (!handle) return;
    {
        std::lock_guard lock(handle->run_mutex);
        if (handle->running) {
            (void)fail(Errc::invalid_argument, "vm_run runs on the VM; stop it (vm_stop) and let vm_run return first");
            return;
        }
    }
    {
        std::lock_guard lock(handle->mutex);
        for (const auto& vcpu : handle->vcpus) {
            if (vcpu->running) {
                (void)fail(Errc::invalid_argument,
                           "vCPU " + std::to_string(vcpu->view.vcpu_id) + " of the VM is running (or in a callback)");
                return;
            }
        }
    }
    capi::forget_vm(handle);
    std::unique_ptr<capi::VmHandle> owned(handle);
    owned->core.reset();  // frees reservations while the vCPU views still exist
}

int vm_set_name(vm_t* vm, const char* name) {
    ApiCall call(__func__);
    capi::VmHandle* handle = capi::live_vm_handle(vm);
    if (!handle || !capi::present(name, "name")) return -1;
    const std::string_view text(name, ::strnlen(name, kMaxNameBytes + 1));
    if (text.empty() || text.size() > kMaxNameBytes) {
        (void)fail(Errc::invalid_argument, "name must have 1 to " + std::to_string(kMaxNameBytes) + " bytes");
        return -1;
    }
    if (!std::all_of(text.begin(), text.end(), [](char c) { return c >= 0x20 && c < 0x7f; })) {
        (void)fail(Errc::invalid_argument, "name must be printable ASCII");
        return -1;
    }
    std::lock_guard lock(handle->mutex);
    handle->name = text;
    handle->view.vm_name = handle->name.data();
    return 0;
}

vm_vcpu_t* vm_create_vcpu(vm_t* vm, int priority) {
    ApiCall call(__func__);
    capi::VmHandle* handle = capi::live_vm_handle(vm);
    if (!handle) return nullptr;
    if (priority < 0 || priority > kMaxPriority) {
        (void)fail(Errc::invalid_argument, "priority " + std::to_string(priority) + " is not in seL4's range 0 to " +
                                               std::to_string(kMaxPriority));
        return nullptr;
    }
    // Under the handle's mutex: vcpus[] and num_vcpus change together, and
    // the core's vCPU index is the C vcpu_id.
    std::lock_guard lock(handle->mutex);
    if (handle->vcpus.size() >= GUESTMEM_MAX_VCPUS) {
        (void)fail(Errc::invalid_argument,
                   "the VM has " + std::to_string(GUESTMEM_MAX_VCPUS) + " vCPUs already (GUESTMEM_MAX_VCPUS)");
        return nullptr;
    }
    auto vcpu = handle->core->create_vcpu();
    if (!vcpu) return nullptr;
    auto view = std::make_unique<capi::VcpuHandle>();
    view->core = *vcpu;
    view->owner = handle;
    view->view.vm = vm;
    view->view.tcb.priority = priority;
    view->view.vcpu_id = (*vcpu)->index();
    view->view.target_cpu = -1;
    view->view.vcpu_online = false;
    (*vcpu)->set_user_data(view.get());
    capi::install_port_dispatcher(*view);  // x86-64: the VM's port handlers (io_ports.cpp)
    capi::register_vcpu(view.get());
    vm_vcpu_t* result = &view->view;
    handle->view.vcpus[handle->vcpus.size()] = result;
    handle->vcpus.push_back(std::move(view));
    handle->view.num_vcpus = static_cast<unsigned>(handle->vcpus.size());
    return result;
}

int vm_assign_vcpu_target(vm_vcpu_t* vcpu, int target_cpu) {
    ApiCall call(__func__);
    capi::VcpuHandle* handle = capi::live_vcpu_handle(vcpu);
    if (!handle) return -1;
    const long cpus = ::sysconf(_SC_NPROCESSORS_CONF);
    if (target_cpu < 0 || target_cpu >= cpus || target_cpu >= CPU_SETSIZE) {
        (void)fail(Errc::invalid_argument, "target CPU " + std::to_string(target_cpu) + " is not a host CPU (0 to " +
                                               std::to_string(std::min<long>(cpus, CPU_SETSIZE) - 1) + ")");
        return -1;
    }
    std::lock_guard lock(handle->owner->mutex);
    for (const auto& other : handle->owner->vcpus) {
        if (other.get() != handle && other->view.target_cpu == target_cpu) {
            (void)fail(Errc::invalid_argument, "vCPU " + std::to_string(other->view.vcpu_id) + " is assigned to CPU " +
                                                   std::to_string(target_cpu) + " already");
            return -1;
        }
    }
    handle->view.target_cpu = target_cpu;
    return 0;
}

vm_vcpu_t* vm_vcpu_for_target_cpu(vm_t* vm, int target_cpu) {
    ApiCall call(__func__);
    capi::VmHandle* handle = capi::live_vm_handle(vm);
    if (!handle) return nullptr;
    std::lock_guard lock(handle->mutex);
    for (const auto& vcpu : handle->vcpus) {
        if (vcpu->view.target_cpu == target_cpu) return &vcpu->view;
    }
    return nullptr;
}

vm_vcpu_t* vm_find_free_unassigned_vcpu(vm_t* vm) {
    ApiCall call(__func__);
    capi::VmHandle* handle = capi::live_vm_handle(vm);
    if (!handle) return nullptr;
    std::lock_guard lock(handle->mutex);
    for (const auto& vcpu : handle->vcpus) {
        if (vcpu->view.target_cpu == -1) return &vcpu->view;
    }
    return nullptr;
}

bool is_vcpu_online(vm_vcpu_t* vcpu) {
    ApiCall call(__func__);
    capi::VcpuHandle* handle = capi::live_vcpu_handle(vcpu);
    if (!handle) return false;
    std::lock_guard lock(handle->owner->mutex);
    return handle->view.vcpu_online;
}

int vm_register_unhandled_mem_fault_callback(vm_t* vm, unhandled_mem_fault_callback_fn fault_handler, void* cookie) {
    ApiCall call(__func__);
    capi::VmHandle* handle = capi::live_vm_handle(vm);
    if (!handle) return -1;
    if (!capi::present(fault_handler, "callback")) return -1;
    std::lock_guard lock(handle->mutex);
    handle->core->set_unhandled_fault_handler(capi::wrap_callback(fault_handler, cookie));
    handle->view.mem.unhandled_mem_fault_handler = fault_handler;
    handle->view.mem.unhandled_mem_fault_cookie = cookie;
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
    Vcpu* core = capi::live_vcpu(vcpu);
    if (!core) return -1;
    if (!capi::present(data, "data")) return -1;
    // sim::read and sim::write check len (1, 2, 4 or 8), naming this function.
    if (is_write) return sim::write(*core, addr, len, *data) ? 0 : -1;
    auto value = sim::read(*core, addr, len);
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
