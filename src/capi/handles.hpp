// SPDX-License-Identifier: BSD-2-Clause
// The C handles and the process-wide tables that validate them.
#pragma once

#include <memory>
#include <string>
#include <mutex>
#include <vector>

#include "guestmem/capability_space.hpp"
#include "guestmem/vm.hpp"
#include "sel4vm/guest_memory.h"
#include "sel4vm/guestmem.h"

/// vm_t: owns the C++ Vm and the C views of its vCPUs.
struct vm {
    std::unique_ptr<guestmem::Vm> core;
    std::mutex vcpus_mutex;  // vm_create_vcpu may run on several threads, like Vm::create_vcpu
    std::vector<std::unique_ptr<struct vm_vcpu>> vcpus;
};

/// vm_vcpu_t: the C view of a guestmem::Vcpu.
struct vm_vcpu {
    guestmem::Vcpu* core = nullptr;
    vm_t* owner = nullptr;
};

namespace guestmem::capi {

/// The capability space behind vmm_frame_alloc and friends: one per process,
/// shared by every VM the C API creates (so frames can be shared between them).
const std::shared_ptr<CapabilitySpace>& process_capabilities();

/// Registers a VM made by vm_create; forgets it (and its reservations) on destroy.
void register_vm(vm_t* vm);
void forget_vm(vm_t* vm);
/// The VM if `vm` is a live handle; otherwise logs why (naming the current API call) and returns null.
Vm* live_vm(vm_t* vm);

/// Reservation handles are tokens, never pointers: a freed or forged handle is
/// recognised as such instead of being dereferenced.
vm_memory_reservation_t* to_handle(vm_t* vm, ReservationId id);
/// The reservation a handle names, if it is live and (when vm is given) belongs to vm.
Result<ReservationId> resolve(vm_t* vm, vm_memory_reservation_t* handle);
/// The VM a live handle belongs to.
Result<vm_t*> owner_of(vm_memory_reservation_t* handle);
void forget_reservation(vm_memory_reservation_t* handle);

/// seL4_CapRights_t has guestmem::Rights' layout in its low four bits.
Rights rights_of(seL4_CapRights_t rights);

/// Wraps a C map iterator (not NULL) as a MapIterator.
MapIterator wrap_iterator(memory_map_iterator_fn iterator, void* cookie);

/// False, with a log line "<current call>: <what> is NULL", when `pointer` is
/// NULL (data or function pointer alike).
template <class T>
bool present(T* pointer, const char* what) {
    if (pointer) return true;
    (void)fail(Errc::invalid_argument, std::string(what) + " is NULL");
    return false;
}

/// Wraps a C fault callback as a FaultHandler (empty if `callback` is NULL).
FaultHandler wrap_callback(memory_fault_callback_fn callback, void* cookie);

}  // namespace guestmem::capi
