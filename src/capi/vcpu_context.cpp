// SPDX-License-Identifier: BSD-2-Clause
#include "vcpu_context.hpp"

#include <string>

#include "guestmem/error.hpp"
#include "guestmem/vcpu.hpp"

namespace guestmem::capi {

VcpuHandle* context_vcpu(vm_vcpu_t* vcpu, Arch arch) {
    VcpuHandle* handle = live_vcpu_handle(vcpu);
    if (!handle) return nullptr;
    if (handle->core->arch() != arch) {
        const bool x86 = arch == Arch::x86_64;
        (void)fail(Errc::invalid_argument, std::string("the vCPU belongs to a VM of ") + (x86 ? "AArch64" : "x86-64") +
                                               " guests: this is the " + (x86 ? "x86-64" : "AArch64") +
                                               " function; use <sel4vm/arch/" +
                                               (x86 ? "guest_arm_context.h" : "guest_x86_context.h") + "> for that VM");
        return nullptr;
    }
    return handle;
}

StillVcpu::StillVcpu(VcpuHandle& vcpu, Use use) : vcpu_(vcpu) {
    if (!vcpu.running.exchange(true)) {
        claimed_ = true;
        ok_ = true;
        return;
    }
    const bool own_callback = fault_in_callback(&vcpu.view) != nullptr || in_port_callback(&vcpu.view);
    if (use == Use::read && own_callback) {
        ok_ = true;
        return;
    }
    const std::string which = "vCPU " + std::to_string(vcpu.view.vcpu_id);
    if (use == Use::write && own_callback) {
        (void)fail(Errc::invalid_argument,
                   which + " is in the middle of the access its callback handles: change its registers after the run "
                           "returns (vcpu_request_exit ends it)");
    } else {
        (void)fail(
            Errc::invalid_argument,
            which + " is running (vcpu_run or vm_run on another thread): " + (use == Use::read ? "read" : "change") +
                " its registers after the run returns" + (use == Use::read ? ", or from its own callbacks" : ""));
    }
}

StillVcpu::~StillVcpu() {
    if (claimed_) vcpu_.running = false;
}

}  // namespace guestmem::capi
