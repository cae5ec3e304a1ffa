// SPDX-License-Identifier: BSD-2-Clause
// x86 port I/O from C (<sel4vm/arch/ioports.h>): a per-VM table of port
// ranges, installed into every vCPU of the VM as its core port handler
// (Vcpu::set_port_io_handler), and vm_sim_port_access (<sel4vm/guestmem.h>)
// for the sim backend.
#include <algorithm>
#include <cstdint>
#include <optional>
#include <sstream>
#include <string>

#include "guestmem/log.hpp"
#include "guestmem/port_io.hpp"
#include "guestmem/sim.hpp"
#include "guestmem/vcpu.hpp"
#include "handles.hpp"
#include "sel4vm/arch/ioports.h"
#include "sel4vm/guestmem.h"

using namespace guestmem;

namespace guestmem::capi {

namespace {

/// The vCPU whose port handler runs on this thread (nested: a handler's own
/// accesses may run other callbacks).
thread_local constinit const vm_vcpu_t* t_port_vcpu = nullptr;

class PortCallbackScope {
public:
    explicit PortCallbackScope(const vm_vcpu_t* vcpu) : saved_(t_port_vcpu) { t_port_vcpu = vcpu; }
    ~PortCallbackScope() { t_port_vcpu = saved_; }
    PortCallbackScope(const PortCallbackScope&) = delete;
    PortCallbackScope& operator=(const PortCallbackScope&) = delete;

private:
    const vm_vcpu_t* saved_;
};

std::uint32_t mask_of(unsigned size) { return size >= 4 ? ~std::uint32_t{0} : (std::uint32_t{1} << (8 * size)) - 1; }

std::string hex(unsigned value) {
    std::ostringstream out;
    out << "0x" << std::hex << value;
    return out.str();
}

std::string describe(const PortAccess& access) {
    return std::string(access.is_write ? "OUT" : "IN") + " of " + std::to_string(access.size) + " byte" +
           (access.size == 1 ? "" : "s") + " at port " + hex(access.port);
}

std::string describe(const PortRange& range) {
    return "[" + hex(range.start) + ", " + hex(range.end) + "]" + (range.desc.empty() ? "" : " (" + range.desc + ")");
}

/// The VM's answer to one port access of `vcpu` (see <sel4vm/arch/ioports.h>
/// for the order: range handler, unhandled-port callback, error).
PortResult dispatch(VcpuHandle& vcpu, PortAccess& access) {
    PortTable& table = vcpu.owner->ports;
    std::optional<PortRange> range;
    unhandled_ioport_callback_fn unhandled = nullptr;
    void* unhandled_cookie = nullptr;
    {
        // Copied out: the lock is not held while user code runs (a handler
        // may add handlers).
        std::lock_guard lock(table.mutex);
        auto after = std::upper_bound(table.ranges.begin(), table.ranges.end(), access.port,
                                      [](std::uint16_t port, const PortRange& r) { return port < r.start; });
        if (after != table.ranges.begin() && access.port <= std::prev(after)->end) range = *std::prev(after);
        unhandled = table.unhandled;
        unhandled_cookie = table.unhandled_cookie;
    }
    const std::uint32_t mask = mask_of(access.size);
    const bool is_in = !access.is_write;
    unsigned int value = is_in ? 0 : access.data & mask;
    int result = IO_FAULT_UNHANDLED;
    bool asked_callback = false;
    {
        PortCallbackScope scope(&vcpu.view);
        ApiCall::UserCode user_code;
        if (range) {
            const vm_ioport_interface_t& in = range->interface;
            if (is_in && in.port_in) {
                result = in.port_in(&vcpu.view, in.cookie, access.port, access.size, &value);
            } else if (!is_in && in.port_out) {
                result = in.port_out(&vcpu.view, in.cookie, access.port, access.size, value);
            }
        }
        if (result == IO_FAULT_UNHANDLED && unhandled) {
            if (is_in) value = 0;
            asked_callback = true;
            result = unhandled(&vcpu.view, access.port, is_in, &value, access.size, unhandled_cookie);
        }
    }
    if (result == IO_FAULT_HANDLED) {
        if (is_in) access.data = value & mask;
        return PortResult::handled;
    }
    const std::string who = asked_callback ? "the unhandled-port callback"
                            : range        ? "the handler of " + describe(*range)
                                           : std::string("no handler covers the port");
    std::string why;
    if (result == IO_FAULT_UNHANDLED) {
        why = asked_callback ? who + " returned IO_FAULT_UNHANDLED"
              : range        ? who + " did not handle it and there is no unhandled-port callback"
                             : who + " and there is no unhandled-port callback";
    } else if (result == IO_FAULT_ERROR) {
        why = who + " returned IO_FAULT_ERROR";
    } else {
        why = who + " returned " + std::to_string(result) + ", not an ioport_fault_result_t";
    }
    log(LogLevel::error, "port I/O: vCPU " + std::to_string(vcpu.view.vcpu_id) + ": " + describe(access) + ": " + why);
    return PortResult::error;
}

/// The VM behind `vm` if it is a live handle of x86-64 guests; null (logged) otherwise.
VmHandle* x86_vm_handle(vm_t* vm) {
    VmHandle* handle = live_vm_handle(vm);
    if (!handle) return nullptr;
    if (handle->core->backend().arch() != Arch::x86_64) {
        (void)fail(Errc::invalid_argument, "the VM runs AArch64 guests, which have no I/O ports");
        return nullptr;
    }
    return handle;
}

}  // namespace

void install_port_dispatcher(VcpuHandle& vcpu) {
    if (vcpu.core->arch() != Arch::x86_64) return;
    VcpuHandle* target = &vcpu;  // lives as long as the VM, as the core vCPU does
    (void)vcpu.core->set_port_io_handler([target](PortAccess& access) { return dispatch(*target, access); });
}

bool in_port_callback(const vm_vcpu_t* vcpu) { return vcpu && vcpu == t_port_vcpu; }

}  // namespace guestmem::capi

extern "C" {

int vm_io_port_add_handler(vm_t* vm, vm_ioport_range_t ioport_range, vm_ioport_interface_t ioport_interface) {
    ApiCall call(__func__);
    capi::VmHandle* handle = capi::x86_vm_handle(vm);
    if (!handle) return -1;
    capi::PortRange range;
    range.start = ioport_range.start;
    range.end = ioport_range.end;
    range.interface = ioport_interface;
    range.interface.desc = nullptr;
    if (ioport_interface.desc) range.desc = ioport_interface.desc;
    if (range.start > range.end) {
        (void)fail(Errc::invalid_argument, "range " + capi::describe(range) + ": start is after end");
        return -1;
    }
    if (!ioport_interface.port_in && !ioport_interface.port_out) {
        (void)fail(Errc::invalid_argument,
                   "range " + capi::describe(range) + ": the interface has neither port_in nor port_out");
        return -1;
    }
    capi::PortTable& table = handle->ports;
    std::lock_guard lock(table.mutex);
    for (const capi::PortRange& other : table.ranges) {
        if (other.start <= range.end && range.start <= other.end) {
            (void)fail(Errc::overlap,
                       "range " + capi::describe(range) + " overlaps " + capi::describe(other) + ", added before");
            return -1;
        }
    }
    auto at = std::upper_bound(table.ranges.begin(), table.ranges.end(), range.start,
                               [](std::uint16_t start, const capi::PortRange& r) { return start < r.start; });
    table.ranges.insert(at, std::move(range));
    return 0;
}

int vm_register_unhandled_ioport_callback(vm_t* vm, unhandled_ioport_callback_fn ioport_callback, void* cookie) {
    ApiCall call(__func__);
    capi::VmHandle* handle = capi::x86_vm_handle(vm);
    if (!handle || !capi::present(ioport_callback, "callback")) return -1;
    std::lock_guard lock(handle->ports.mutex);
    handle->ports.unhandled = ioport_callback;
    handle->ports.unhandled_cookie = cookie;
    return 0;
}

int vm_sim_port_access(vm_vcpu_t* vcpu, uint16_t port, size_t size, bool is_write, uint32_t* data) {
    ApiCall call(__func__);
    Vcpu* core = capi::live_vcpu(vcpu);
    if (!core || !capi::present(data, "data")) return -1;
    if (size != 1 && size != 2 && size != 4) {
        (void)fail(Errc::invalid_argument, "size " + std::to_string(size) + " is not 1, 2 or 4 bytes");
        return -1;
    }
    PortAccess access{port, static_cast<std::uint8_t>(size), is_write, is_write ? *data : 0};
    if (!sim::port_access(*core, access)) return -1;
    if (!is_write) *data = access.data;
    return 0;
}

}  // extern "C"
