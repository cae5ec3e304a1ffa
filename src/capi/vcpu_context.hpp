// SPDX-License-Identifier: BSD-2-Clause
// What the context calls of both architectures share
// (<sel4vm/arch/guest_arm_context.h>, <sel4vm/arch/guest_x86_context.h>):
// finding the vCPU, checking its architecture, and holding it still.
#pragma once

#include "guestmem/arch.hpp"
#include "handles.hpp"

namespace guestmem::capi {

/// The vCPU behind `vcpu` if it is a live handle of a VM of `arch`;
/// otherwise null, logged (naming the header for the other architecture).
VcpuHandle* context_vcpu(vm_vcpu_t* vcpu, Arch arch);

/// Holds a vCPU still for one context call. A vCPU that does not run is
/// claimed as a run claims it (so no vcpu_run or vm_run starts under the
/// call, and the call refuses a vCPU claimed by a run). A running vCPU may
/// still be read (not written) from its own fault or port callbacks, on the
/// thread running it. Converts to false (logged) when the call must not go on.
class StillVcpu {
public:
    enum class Use { read, write };
    StillVcpu(VcpuHandle& vcpu, Use use);
    ~StillVcpu();
    StillVcpu(const StillVcpu&) = delete;
    StillVcpu& operator=(const StillVcpu&) = delete;
    explicit operator bool() const { return ok_; }

private:
    VcpuHandle& vcpu_;
    bool claimed_ = false;
    bool ok_ = false;
};

}  // namespace guestmem::capi
