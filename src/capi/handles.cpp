// SPDX-License-Identifier: BSD-2-Clause
#include "handles.hpp"

#include <mutex>
#include <string>
#include <unordered_map>
#include <unordered_set>

namespace guestmem::capi {

namespace {

struct Tables {
    std::mutex mutex;
    std::unordered_set<vm_t*> vms;
    std::unordered_map<std::uintptr_t, vm_t*> reservations;  // token -> owner
};

Tables& tables() {
    static Tables t;
    return t;
}

// Tokens look like aligned pointers but point nowhere; ids are never reused.
constexpr unsigned kTokenShift = 4;

std::uintptr_t token_of(vm_memory_reservation_t* handle) { return reinterpret_cast<std::uintptr_t>(handle); }

}  // namespace

const std::shared_ptr<CapabilitySpace>& process_capabilities() {
    static const std::shared_ptr<CapabilitySpace> caps = std::make_shared<CapabilitySpace>();
    return caps;
}

void register_vm(vm_t* vm) {
    std::lock_guard lock(tables().mutex);
    tables().vms.insert(vm);
}

void forget_vm(vm_t* vm) {
    std::lock_guard lock(tables().mutex);
    tables().vms.erase(vm);
    std::erase_if(tables().reservations, [vm](const auto& entry) { return entry.second == vm; });
}

Vm* live_vm(vm_t* vm) {
    if (!capi::present(vm, "vm")) return nullptr;
    std::lock_guard lock(tables().mutex);
    if (!tables().vms.count(vm)) {
        (void)fail(Errc::invalid_argument, "vm is not a live VM handle");
        return nullptr;
    }
    return vm->core.get();
}

vm_memory_reservation_t* to_handle(vm_t* vm, ReservationId id) {
    const auto token = static_cast<std::uintptr_t>(id) << kTokenShift;
    std::lock_guard lock(tables().mutex);
    tables().reservations.emplace(token, vm);
    // NOLINTNEXTLINE(performance-no-int-to-ptr): the handle is a token, never dereferenced
    return reinterpret_cast<vm_memory_reservation_t*>(token);
}

Result<vm_t*> owner_of(vm_memory_reservation_t* handle) {
    if (!handle) return fail(Errc::unknown_reservation, "reservation is NULL");
    std::lock_guard lock(tables().mutex);
    auto it = tables().reservations.find(token_of(handle));
    if (it == tables().reservations.end()) {
        return fail(Errc::unknown_reservation, "reservation handle is unknown or already freed");
    }
    return it->second;
}

Result<ReservationId> resolve(vm_t* vm, vm_memory_reservation_t* handle) {
    auto owner = owner_of(handle);
    if (!owner) return owner.error();
    if (vm && *owner != vm) return fail(Errc::unknown_reservation, "reservation belongs to another VM");
    return static_cast<ReservationId>(token_of(handle) >> kTokenShift);
}

void forget_reservation(vm_memory_reservation_t* handle) {
    std::lock_guard lock(tables().mutex);
    tables().reservations.erase(token_of(handle));
}

Rights rights_of(seL4_CapRights_t rights) { return static_cast<Rights>(rights.words[0] & 0xf); }

MapIterator wrap_iterator(memory_map_iterator_fn iterator, void* cookie) {
    return [iterator, cookie](GuestAddr addr) {
        const vm_frame_t frame = iterator(static_cast<uintptr_t>(addr), cookie);
        return FrameRequest{frame.cptr, rights_of(frame.rights), frame.vaddr, frame.size_bits};
    };
}

FaultHandler wrap_callback(memory_fault_callback_fn callback, void* cookie) {
    if (!callback) return {};
    return [callback, cookie](Fault& fault) {
        auto* vcpu = static_cast<vm_vcpu_t*>(fault.vcpu().user_data());
        vm_t* vm = vcpu ? vcpu->owner : static_cast<vm_t*>(fault.vcpu().vm().user_data());
        return static_cast<FaultResult>(
            callback(vm, vcpu, static_cast<uintptr_t>(fault.address()), fault.size(), cookie));
    };
}

}  // namespace guestmem::capi
