// SPDX-License-Identifier: BSD-2-Clause
// The C handles and the process-wide tables that validate them.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "guestmem/capability_space.hpp"
#include "guestmem/run_result.hpp"
#include "guestmem/vm.hpp"
#include "sel4vm/arch/ioports.h"
#include "sel4vm/guest_memory.h"
#include "sel4vm/guest_vm.h"
#include "sel4vm/guestmem.h"

namespace guestmem::capi {

struct VmHandle;

/// What stands behind a vm_vcpu_t: the public struct C code reads, and the
/// core vCPU it is a view of. Lives as long as its VM.
struct VcpuHandle {
    vm_vcpu_t view{};  // what C code holds a pointer to
    Vcpu* core = nullptr;
    VmHandle* owner = nullptr;
    std::atomic<bool> running{false};   // in vcpu_run or vm_run
    std::mutex run_mutex;               // guards last_run
    std::optional<RunResult> last_run;  // of the last vm_run or vcpu_run
};

/// A notification vm_notify delivered, waiting for vm_run.
struct Notification {
    seL4_Word badge = 0;
    seL4_Word label = 0;
};

/// One range of vm_io_port_add_handler: ports start to end, both included.
struct PortRange {
    std::uint16_t start = 0;
    std::uint16_t end = 0;
    vm_ioport_interface_t interface = {};  // desc points nowhere: see `desc`
    std::string desc;                      // the caller's desc, copied ("" for NULL)
};

/// A VM's port I/O table (<sel4vm/arch/ioports.h>, io_ports.cpp): read by
/// every vCPU's port dispatcher, changed by vm_io_port_add_handler and
/// vm_register_unhandled_ioport_callback, all under `mutex` (never held
/// while a handler runs).
struct PortTable {
    std::mutex mutex;
    std::vector<PortRange> ranges;  // sorted by start, disjoint
    unhandled_ioport_callback_fn unhandled = nullptr;
    void* unhandled_cookie = nullptr;
};

/// What stands behind a vm_t: the public struct C code reads, the core VM,
/// and the C views of its vCPUs.
struct VmHandle {
    vm_t view{};  // what C code holds a pointer to
    std::unique_ptr<Vm> core;
    std::string name;
    /// Serialises changes to the public struct's members (vcpus, mem, run).
    std::mutex mutex;
    std::vector<std::unique_ptr<VcpuHandle>> vcpus;  // under mutex
    std::vector<vm_ram_region_t> ram_regions;        // what view.mem.ram_regions points to
    /// vm_run's state: whether one runs, and the notifications it has yet to deliver.
    std::mutex run_mutex;
    std::condition_variable run_wake;
    bool running = false;                    // under run_mutex
    std::deque<Notification> notifications;  // under run_mutex

    /// x86 port I/O handlers (io_ports.cpp).
    PortTable ports;
};

/// The capability space behind vmm_frame_alloc and friends: one per process,
/// shared by every VM the C API creates (so frames can be shared between them).
const std::shared_ptr<CapabilitySpace>& process_capabilities();

/// Registers a VM made by vm_create; forgets it (its vCPUs and reservations) on destroy.
void register_vm(VmHandle* vm);
void forget_vm(VmHandle* vm);
void register_vcpu(VcpuHandle* vcpu);
/// The VM behind `vm` if it is a live handle; otherwise logs why (naming the
/// current API call) and returns null.
VmHandle* live_vm_handle(vm_t* vm);
/// The core VM behind `vm` if it is a live handle; otherwise null (logged).
Vm* live_vm(vm_t* vm);
/// The vCPU behind `vcpu` if it is a live handle; otherwise null (logged).
VcpuHandle* live_vcpu_handle(vm_vcpu_t* vcpu);
/// The core vCPU behind `vcpu` if it is a live handle; otherwise null (logged).
Vcpu* live_vcpu(vm_vcpu_t* vcpu);

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

/// The C views of the vCPU a fault happened on and of its VM.
vm_vcpu_t* vcpu_view_of(const Fault& fault);
vm_t* vm_view_of(const Fault& fault);

/// The fault a C fault callback on this thread was given `vcpu` for; null
/// outside such a callback or for another vCPU.
Fault* fault_in_callback(vm_vcpu_t* vcpu);

/// Wraps a C fault callback as a FaultHandler (empty if `callback` is NULL).
FaultHandler wrap_callback(memory_fault_callback_fn callback, void* cookie);

/// Makes vm->mem.ram_regions what the VM's guest RAM is now.
void refresh_ram_regions(VmHandle& vm);

/// Gives a new vCPU of an x86-64 VM the VM's port dispatcher (the table of
/// vm_io_port_add_handler); nothing for an AArch64 VM (io_ports.cpp).
void install_port_dispatcher(VcpuHandle& vcpu);
/// True on the thread running `vcpu` while one of its port handlers (or the
/// unhandled-port callback) runs for it.
bool in_port_callback(const vm_vcpu_t* vcpu);

}  // namespace guestmem::capi
