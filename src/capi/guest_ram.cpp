// SPDX-License-Identifier: BSD-2-Clause
// <sel4vm/guest_ram.h> over guestmem::GuestRam and Vm::visit_memory.
#include "sel4vm/guest_ram.h"

#include <string>

#include "guestmem/guest_memory.hpp"
#include "format.hpp"
#include "guestmem/guest_ram.hpp"
#include "handles.hpp"

using namespace guestmem;
using guestmem::capi::live_vm;

namespace {

/// Shared by the two copy callbacks: checks the pointers and logs under the
/// callback's own name.
bool copy_args_ok(const void* vaddr, const void* buf) {
    if (!capi::present(vaddr, "vaddr")) return false;
    if (!capi::present(buf, "buf")) return false;
    return true;
}

}  // namespace

extern "C" {

int vm_guest_ram_read_callback(vm_t*, uintptr_t, void* vaddr, size_t size, size_t offset, void* buf) {
    ApiCall call(__func__);
    if (!copy_args_ok(vaddr, buf)) return -1;
    // libsel4vm copies to buf and ignores offset, so every piece after the
    // first overwrote the start of the buffer; the piece belongs at buf + offset.
    copy_from_guest_memory({static_cast<std::byte*>(buf) + offset, size}, {static_cast<const std::byte*>(vaddr), size});
    return 0;
}

int vm_guest_ram_write_callback(vm_t*, uintptr_t, void* vaddr, size_t size, size_t offset, void* buf) {
    ApiCall call(__func__);
    if (!copy_args_ok(vaddr, buf)) return -1;
    copy_to_guest_memory({static_cast<std::byte*>(vaddr), size}, {static_cast<const std::byte*>(buf) + offset, size});
    return 0;
}

int vm_ram_touch(vm_t* vm, uintptr_t addr, size_t size, ram_touch_callback_fn touch_callback, void* cookie) {
    ApiCall call(__func__);
    Vm* core = live_vm(vm);
    if (!core) return -1;
    if (!capi::present(touch_callback, "touch callback")) return -1;
    // Rights::read: the VMM's view, which includes frames the guest may only
    // read (the callback decides whether it writes).
    auto done = core->visit_memory(addr, size, Rights::read, [&](const GuestChunk& chunk) -> Result<void> {
        // Inside the visit this is user code again (ApiCall::UserCode):
        // name vm_ram_touch for the error below, and let calls the touch
        // callback makes name themselves.
        ApiCall touch("vm_ram_touch");
        int rc;
        {
            ApiCall::UserCode user_code;
            rc = touch_callback(vm, static_cast<uintptr_t>(chunk.gpa), chunk.host.data(), chunk.host.size(),
                                static_cast<size_t>(chunk.offset), cookie);
        }
        // Any callback but the read callback may have written (even one that
        // then failed): dirty tracking over-reports rather than lose a write.
        if (touch_callback != vm_guest_ram_read_callback) record_write(chunk);
        if (rc != 0) {
            return fail(Errc::invalid_argument, "touch callback returned " + std::to_string(rc) + " for " +
                                                    hex(chunk.host.size()) + " bytes at guest address " +
                                                    hex(chunk.gpa));
        }
        return {};
    });
    return done ? 0 : -1;
}

int vm_ram_find_largest_free_region(vm_t* vm, uintptr_t* addr, size_t* size) {
    ApiCall call(__func__);
    Vm* core = live_vm(vm);
    if (!core) return -1;
    if (!addr || !size) {
        (void)fail(Errc::invalid_argument, "addr or size (where to store the region) is NULL");
        return -1;
    }
    auto largest = core->ram().largest_free_region();
    if (!largest) return -1;
    *addr = static_cast<uintptr_t>(largest->base);
    *size = static_cast<size_t>(largest->size);
    return 0;
}

int vm_ram_register_checked(vm_t* vm, size_t bytes, uintptr_t* addr) {
    ApiCall call(__func__);
    capi::VmHandle* handle = capi::live_vm_handle(vm);
    if (!handle) return -1;
    if (!capi::present(addr, "addr (where to store the address)")) return -1;
    auto base = handle->core->ram().register_anon(bytes);
    if (!base) return -1;
    capi::refresh_ram_regions(*handle);
    *addr = static_cast<uintptr_t>(*base);
    return 0;
}

uintptr_t vm_ram_register(vm_t* vm, size_t bytes) {
    ApiCall call(__func__);
    uintptr_t addr = 0;
    return vm_ram_register_checked(vm, bytes, &addr) == 0 ? addr : 0;
}

int vm_ram_register_at(vm_t* vm, uintptr_t start, size_t bytes, bool /*untyped: see guest_ram.h*/) {
    ApiCall call(__func__);
    capi::VmHandle* handle = capi::live_vm_handle(vm);
    if (!handle || !handle->core->ram().register_at(start, bytes)) return -1;
    capi::refresh_ram_regions(*handle);
    return 0;
}

int vm_ram_register_at_custom_iterator(vm_t* vm, uintptr_t start, size_t bytes, memory_map_iterator_fn map_iterator,
                                       void* cookie) {
    ApiCall call(__func__);
    capi::VmHandle* handle = capi::live_vm_handle(vm);
    if (!handle) return -1;
    if (!capi::present(map_iterator, "map iterator")) return -1;
    const MapIterator iterator = capi::wrap_iterator(map_iterator, cookie);
    if (!handle->core->ram().register_at(start, bytes, iterator)) return -1;
    capi::refresh_ram_regions(*handle);
    return 0;
}

void vm_ram_mark_allocated(vm_t* vm, uintptr_t start, size_t bytes) {
    ApiCall call(__func__);
    capi::VmHandle* handle = capi::live_vm_handle(vm);
    if (handle && handle->core->ram().mark_allocated(start, bytes)) capi::refresh_ram_regions(*handle);
}

int vm_ram_allocate_checked(vm_t* vm, size_t bytes, size_t align, uintptr_t* addr) {
    ApiCall call(__func__);
    capi::VmHandle* handle = capi::live_vm_handle(vm);
    if (!handle) return -1;
    if (!capi::present(addr, "addr (where to store the address)")) return -1;
    auto base = handle->core->ram().allocate(bytes, align);
    if (!base) return -1;
    capi::refresh_ram_regions(*handle);
    *addr = static_cast<uintptr_t>(*base);
    return 0;
}

uintptr_t vm_ram_allocate(vm_t* vm, size_t bytes) {
    ApiCall call(__func__);
    uintptr_t addr = 0;
    return vm_ram_allocate_checked(vm, bytes, 0, &addr) == 0 ? addr : 0;
}

void vm_ram_free(vm_t* vm, uintptr_t start, size_t bytes) {
    ApiCall call(__func__);
    capi::VmHandle* handle = capi::live_vm_handle(vm);
    if (handle && handle->core->ram().free(start, bytes)) capi::refresh_ram_regions(*handle);
}

}  // extern "C"
