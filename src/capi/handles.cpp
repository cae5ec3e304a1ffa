// SPDX-License-Identifier: BSD-2-Clause
#include "handles.hpp"

#include "guestmem/guest_ram.hpp"

#include <mutex>
#include <string>
#include <unordered_map>

namespace guestmem::capi {

namespace {

struct Tables {
    std::mutex mutex;
    std::unordered_map<vm_t*, VmHandle*> vms;
    std::unordered_map<vm_vcpu_t*, VcpuHandle*> vcpus;
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

void register_vm(VmHandle* vm) {
    std::lock_guard lock(tables().mutex);
    tables().vms.emplace(&vm->view, vm);
}

void forget_vm(VmHandle* vm) {
    std::lock_guard lock(tables().mutex);
    tables().vms.erase(&vm->view);
    std::erase_if(tables().vcpus, [vm](const auto& entry) { return entry.second->owner == vm; });
    std::erase_if(tables().reservations, [vm](const auto& entry) { return entry.second == &vm->view; });
}

void register_vcpu(VcpuHandle* vcpu) {
    std::lock_guard lock(tables().mutex);
    tables().vcpus.emplace(&vcpu->view, vcpu);
}

VmHandle* live_vm_handle(vm_t* vm) {
    if (!capi::present(vm, "vm")) return nullptr;
    std::lock_guard lock(tables().mutex);
    auto it = tables().vms.find(vm);
    if (it == tables().vms.end()) {
        (void)fail(Errc::invalid_argument, "vm is not a live VM handle");
        return nullptr;
    }
    return it->second;
}

Vm* live_vm(vm_t* vm) {
    VmHandle* handle = live_vm_handle(vm);
    return handle ? handle->core.get() : nullptr;
}

VcpuHandle* live_vcpu_handle(vm_vcpu_t* vcpu) {
    if (!capi::present(vcpu, "vcpu")) return nullptr;
    std::lock_guard lock(tables().mutex);
    auto it = tables().vcpus.find(vcpu);
    if (it == tables().vcpus.end()) {
        (void)fail(Errc::invalid_argument, "vcpu is not a live vCPU handle");
        return nullptr;
    }
    return it->second;
}

Vcpu* live_vcpu(vm_vcpu_t* vcpu) {
    VcpuHandle* handle = live_vcpu_handle(vcpu);
    return handle ? handle->core : nullptr;
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

vm_vcpu_t* vcpu_view_of(const Fault& fault) {
    auto* vcpu = static_cast<VcpuHandle*>(fault.vcpu().user_data());
    return vcpu ? &vcpu->view : nullptr;
}

vm_t* vm_view_of(const Fault& fault) {
    auto* vm = static_cast<VmHandle*>(fault.vcpu().vm().user_data());
    return vm ? &vm->view : nullptr;
}

namespace {

/// The fault a C callback handles on this thread, and the vCPU view it was
/// given: the guest_vcpu_fault.h calls check their argument against it
/// without a table lookup. Nested (a callback's own access may fault).
struct CallbackFault {
    vm_vcpu_t* vcpu = nullptr;
    Fault* fault = nullptr;
};
thread_local constinit CallbackFault t_callback_fault{};

}  // namespace

Fault* fault_in_callback(vm_vcpu_t* vcpu) {
    return vcpu && vcpu == t_callback_fault.vcpu ? t_callback_fault.fault : nullptr;
}

FaultHandler wrap_callback(memory_fault_callback_fn callback, void* cookie) {
    if (!callback) return {};
    return [callback, cookie](Fault& fault) {
        vm_vcpu_t* vcpu = vcpu_view_of(fault);
        const CallbackFault outer = t_callback_fault;
        t_callback_fault = {vcpu, &fault};
        const auto result =
            callback(vm_view_of(fault), vcpu, static_cast<uintptr_t>(fault.address()), fault.size(), cookie);
        t_callback_fault = outer;
        return static_cast<FaultResult>(result);
    };
}

namespace {

vm_ram_region_t piece(GuestAddr start, std::uint64_t size, int allocated) {
    return {static_cast<uintptr_t>(start), static_cast<size_t>(size), allocated};
}

}  // namespace

void refresh_ram_regions(VmHandle& vm) {
    const GuestRam& ram = vm.core->ram();
    std::vector<vm_ram_region_t> regions;
    const auto free = ram.free_regions();
    for (const Range& region : ram.regions()) {
        // Split the registered range into its allocated and free pieces, in
        // address order. Offsets from its base: it may end exactly at 2^64.
        std::uint64_t done = 0;
        for (const Range& gap : free) {
            if (gap.base < region.base || gap.base - region.base >= region.size) continue;
            const std::uint64_t offset = gap.base - region.base;
            if (offset > done) regions.push_back(piece(region.base + done, offset - done, 1));
            regions.push_back(piece(gap.base, gap.size, 0));
            done = offset + gap.size;
        }
        if (done < region.size) regions.push_back(piece(region.base + done, region.size - done, 1));
    }
    std::lock_guard lock(vm.mutex);
    vm.ram_regions = std::move(regions);
    vm.view.mem.ram_regions = vm.ram_regions.empty() ? nullptr : vm.ram_regions.data();
    vm.view.mem.num_ram_regions = static_cast<int>(vm.ram_regions.size());
}

}  // namespace guestmem::capi
