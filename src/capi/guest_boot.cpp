// SPDX-License-Identifier: BSD-2-Clause
// Loading and booting guests from C (<sel4vm/guestmem.h>) over
// guestmem/guest_image.hpp and Vcpu::boot.
#include <string>

#include "guestmem/boot.hpp"
#include "guestmem/guest_image.hpp"
#include "guestmem/vcpu.hpp"
#include "handles.hpp"
#include "vcpu_context.hpp"
#include "sel4vm/guestmem.h"

using namespace guestmem;

extern "C" {

int vm_load_guest_image(vm_t* vm, const char* path, uintptr_t flat_load_addr, uintptr_t* entry) {
    ApiCall call(__func__);
    capi::VmHandle* handle = capi::live_vm_handle(vm);
    if (!handle || !capi::present(path, "path")) return -1;
    Vm& core = *handle->core;
    // Any RAM may hold the image: the checks against guest memory are load_guest_image's.
    auto image = read_guest_image(path, flat_load_addr, core.backend().arch(), RamWindow{0, ~std::uint64_t{0}});
    if (!image || !load_guest_image(core, *image)) return -1;
    {
        std::lock_guard lock(handle->mutex);
        handle->view.entry = image->entry;
    }
    if (entry) *entry = static_cast<uintptr_t>(image->entry);
    return 0;
}

uint64_t vm_x86_boot_tables_size(uint64_t identity_bytes) {
    return x86_boot_tables_size(identity_bytes == 0 ? BootSpec{}.identity_bytes : identity_bytes);
}

int vcpu_boot(vm_vcpu_t* vcpu, const vm_boot_spec_t* spec) {
    ApiCall call(__func__);
    capi::VcpuHandle* handle = capi::live_vcpu_handle(vcpu);
    if (!handle || !capi::present(spec, "spec")) return -1;
    // Held still as the context calls hold it: no run starts under the boot.
    const capi::StillVcpu still(*handle, capi::StillVcpu::Use::write);
    if (!still) return -1;
    BootSpec boot;
    boot.entry = spec->entry;
    boot.stack = spec->stack;
    for (std::size_t i = 0; i < boot.args.size(); ++i) boot.args[i] = spec->args[i];
    boot.x86_tables = spec->x86_tables;
    if (spec->identity_bytes != 0) boot.identity_bytes = spec->identity_bytes;
    boot.x86_real_mode = spec->x86_real_mode;
    return handle->core->boot(boot) ? 0 : -1;
}

}  // extern "C"
