// SPDX-License-Identifier: BSD-2-Clause
// <sel4vm/guest_memory.h> over guestmem::Vm.
#include "sel4vm/guest_memory.h"
#include "sel4vm/guest_memory_helpers.h"

#include <optional>

#include "sel4vm/guestmem.h"

#include "handles.hpp"

using namespace guestmem;
using guestmem::capi::live_vm;

extern "C" {

int vm_memory_init(vm_t* vm) {
    ApiCall call(__func__);
    capi::VmHandle* handle = capi::live_vm_handle(vm);
    if (!handle || !handle->core->init_memory()) return -1;
    std::lock_guard lock(handle->mutex);
    handle->view.vm_initialised = true;
    return 0;
}

vm_memory_reservation_t* vm_reserve_memory_at(vm_t* vm, uintptr_t addr, size_t size,
                                              memory_fault_callback_fn fault_callback, void* cookie) {
    ApiCall call(__func__);
    Vm* core = live_vm(vm);
    if (!core) return nullptr;
    if (!capi::present(fault_callback, "fault callback")) return nullptr;
    auto id = core->reserve_at(addr, size, capi::wrap_callback(fault_callback, cookie));
    return id ? capi::to_handle(vm, *id) : nullptr;
}

vm_memory_reservation_t* vm_reserve_anon_memory(vm_t* vm, size_t size, size_t align,
                                                memory_fault_callback_fn fault_callback, void* cookie,
                                                uintptr_t* addr) {
    ApiCall call(__func__);
    Vm* core = live_vm(vm);
    if (!core) return nullptr;
    if (!capi::present(fault_callback, "fault callback")) return nullptr;
    if (!capi::present(addr, "addr (where to store the address)")) return nullptr;
    auto reservation = core->reserve_anon(size, align, capi::wrap_callback(fault_callback, cookie));
    if (!reservation) return nullptr;
    *addr = static_cast<uintptr_t>(reservation->addr);
    return capi::to_handle(vm, reservation->id);
}

vm_memory_reservation_t* vm_reserve_doorbell_memory(vm_t* vm, uintptr_t addr, size_t size, bool match_value,
                                                    uint64_t value, vm_doorbell_callback_fn callback, void* cookie) {
    ApiCall call(__func__);
    Vm* core = live_vm(vm);
    if (!core) return nullptr;
    if (!capi::present(callback, "doorbell callback")) return nullptr;
    const GuestAddr at = addr;
    auto id = core->reserve_doorbell(
        addr, size,
        [vm, at, callback, cookie](std::uint64_t count) { callback(vm, static_cast<uintptr_t>(at), count, cookie); },
        match_value ? std::optional<std::uint64_t>(value) : std::nullopt);
    return id ? capi::to_handle(vm, *id) : nullptr;
}

vm_memory_reservation_t* vm_reserve_write_posting_memory(vm_t* vm, uintptr_t addr, size_t size,
                                                         memory_fault_callback_fn fault_callback, void* cookie) {
    ApiCall call(__func__);
    Vm* core = live_vm(vm);
    if (!core) return nullptr;
    if (!capi::present(fault_callback, "fault callback")) return nullptr;
    auto id = core->reserve_write_posting(addr, size, capi::wrap_callback(fault_callback, cookie));
    return id ? capi::to_handle(vm, *id) : nullptr;
}

int vm_memory_make_anon(vm_t* vm, uintptr_t addr, size_t size) {
    ApiCall call(__func__);
    Vm* core = live_vm(vm);
    if (!core) return -1;
    return core->make_anon(addr, size) ? 0 : -1;
}

int vm_free_reserved_memory(vm_t* vm, vm_memory_reservation_t* reservation) {
    ApiCall call(__func__);
    Vm* core = live_vm(vm);
    if (!core) return -1;
    auto id = capi::resolve(vm, reservation);
    if (!id) return -1;
    if (!core->free(*id)) return -1;
    capi::forget_reservation(reservation);
    return 0;
}

int vm_map_reservation(vm_t* vm, vm_memory_reservation_t* reservation, memory_map_iterator_fn map_iterator,
                       void* cookie) {
    ApiCall call(__func__);
    Vm* core = live_vm(vm);
    if (!core) return -1;
    auto id = capi::resolve(vm, reservation);
    if (!id) return -1;
    if (!capi::present(map_iterator, "map iterator")) return -1;
    const MapIterator iterator = capi::wrap_iterator(map_iterator, cookie);
    return core->map(*id, iterator) ? 0 : -1;
}

int vm_map_reservation_frames(vm_t* vm, vm_memory_reservation_t* reservation, seL4_CPtr* frames, size_t num_frames,
                              size_t frame_size_bits) {
    ApiCall call(__func__);
    Vm* core = live_vm(vm);
    if (!core) return -1;
    auto id = capi::resolve(vm, reservation);
    if (!id) return -1;
    if (!frames && num_frames != 0) {
        (void)fail(Errc::invalid_argument, "frames is NULL");
        return -1;
    }
    std::span<const Cap> caps(frames, frames ? num_frames : 0);
    return core->map_frames(*id, caps, frame_size_bits) ? 0 : -1;
}

void vm_get_reservation_memory_region(vm_memory_reservation_t* reservation, uintptr_t* addr, size_t* size) {
    ApiCall call(__func__);
    if (!addr || !size) {
        (void)fail(Errc::invalid_argument, "addr or size (where to store the region) is NULL");
        return;
    }
    auto owner = capi::owner_of(reservation);
    if (!owner) return;
    Vm* core = live_vm(*owner);
    if (!core) return;
    auto id = capi::resolve(*owner, reservation);
    if (!id) return;
    auto range = core->region(*id);
    if (!range) return;
    *addr = static_cast<uintptr_t>(range->base);
    *size = static_cast<size_t>(range->size);
}

memory_fault_result_t default_error_fault_callback(vm_t*, vm_vcpu_t*, uintptr_t, size_t, void*) { return FAULT_ERROR; }

}  // extern "C"
