// SPDX-License-Identifier: BSD-2-Clause
// Dirty tracking and snapshots in the C interface: thin wrappers over
// Vm::*_dirty_* and guestmem::snapshot.
#include <algorithm>

#include "guestmem/snapshot.hpp"
#include "handles.hpp"
#include "sel4vm/guestmem.h"

using guestmem::ApiCall;
using guestmem::Errc;
using guestmem::fail;
using guestmem::Vm;
namespace capi = guestmem::capi;
namespace snapshot = guestmem::snapshot;

extern "C" {

int vm_dirty_tracking_start(vm_t* vm) {
    ApiCall call(__func__);
    Vm* core = capi::live_vm(vm);
    return core && core->start_dirty_tracking() ? 0 : -1;
}

int vm_dirty_tracking_stop(vm_t* vm) {
    ApiCall call(__func__);
    Vm* core = capi::live_vm(vm);
    return core && core->stop_dirty_tracking() ? 0 : -1;
}

int vm_dirty_pages(vm_t* vm, uintptr_t addr, size_t size, uint64_t* bitmap, size_t bitmap_words) {
    ApiCall call(__func__);
    Vm* core = capi::live_vm(vm);
    if (!core || !capi::present(bitmap, "bitmap")) return -1;
    const std::uint64_t needed = (size / guestmem::kPageSize + 63) / 64;
    if (bitmap_words < needed) {
        (void)fail(Errc::invalid_argument, std::to_string(size) + " bytes need " + std::to_string(needed) +
                                               " bitmap words, " + std::to_string(bitmap_words) + " given");
        return -1;
    }
    auto bits = core->dirty_pages(addr, size);
    if (!bits) return -1;
    std::fill(bitmap, bitmap + needed, 0);
    std::copy(bits->words.begin(), bits->words.end(), bitmap);
    return 0;
}

int vm_snapshot_save(vm_t* vm, const char* path, const char* parent_or_null) {
    ApiCall call(__func__);
    Vm* core = capi::live_vm(vm);
    if (!core || !capi::present(path, "path")) return -1;
    snapshot::SaveOptions options;
    if (parent_or_null) options.parent = parent_or_null;
    return snapshot::save(*core, path, options) ? 0 : -1;
}

int vm_snapshot_merge(const char* from, const char* to) {
    ApiCall call(__func__);
    if (!capi::present(from, "from") || !capi::present(to, "to")) return -1;
    return snapshot::merge(from, to) ? 0 : -1;
}

int vm_snapshot_restore(vm_t* vm, const char* path, bool eager, vm_snapshot_handler_fn handlers, void* cookie) {
    ApiCall call(__func__);
    Vm* core = capi::live_vm(vm);
    if (!core || !capi::present(path, "path") || !capi::present(handlers, "handler callback")) return -1;
    auto ask = [vm, handlers, cookie](const snapshot::ReservationRecord& r) {
        vm_snapshot_handler_t handler{};
        const int rc = handlers(vm, static_cast<uintptr_t>(r.range.base), static_cast<size_t>(r.range.size),
                                static_cast<vm_snapshot_kind_t>(r.kind), &handler, cookie);
        return rc == 0 ? handler : vm_snapshot_handler_t{};
    };
    snapshot::DeviceHandlers device;
    device.fault = [ask](const snapshot::ReservationRecord& r) {
        const vm_snapshot_handler_t h = ask(r);
        return capi::wrap_callback(h.fault_callback, h.cookie);
    };
    device.doorbell = [ask, vm](const snapshot::ReservationRecord& r) -> guestmem::DoorbellHandler {
        const vm_snapshot_handler_t h = ask(r);
        if (!h.doorbell_callback) return {};
        const auto at = static_cast<uintptr_t>(r.range.base);
        return [vm, at, cb = h.doorbell_callback, c = h.cookie](std::uint64_t count) { cb(vm, at, count, c); };
    };
    // vCPUs the restore would create get their C views first (a vCPU made
    // by the core alone has none), from the newest file's vCPU count. Like
    // the restore's own, vCPUs made are not undone if it fails later.
    auto info = snapshot::inspect(path);
    if (!info) return -1;
    while (core->vcpu_count() < info->vcpus + info->vcpus_without_state) {
        if (!vm_create_vcpu(vm, 0)) return -1;
    }
    if (!snapshot::restore(*core, path, device, eager ? snapshot::RestoreMode::eager : snapshot::RestoreMode::lazy))
        return -1;
    // The restore registered the snapshot's guest RAM.
    if (capi::VmHandle* handle = capi::live_vm_handle(vm)) capi::refresh_ram_regions(*handle);
    return 0;
}

}  // extern "C"
