/// @file
/// A virtual CPU as the core sees it: the thing that performs guest accesses.
#pragma once

#include <memory>
#include <optional>

#include "guestmem/backend.hpp"
#include "guestmem/fault.hpp"

namespace guestmem {

class Vm;
struct LookupCache;

/// A vCPU of a Vm. Created by Vm::create_vcpu and owned by the Vm.
///
/// Thread safety: a vCPU performs one access at a time; use each vCPU from one
/// thread at a time (vCPUs of one VM may run on different threads at once).
class Vcpu {
public:
    /// Made by Vm::create_vcpu (the `index`-th vCPU of `vm`); not for direct use.
    Vcpu(Vm& vm, unsigned index);
    ~Vcpu();
    Vcpu(const Vcpu&) = delete;
    Vcpu& operator=(const Vcpu&) = delete;

    /// The VM the vCPU belongs to.
    Vm& vm() const { return vm_; }
    /// 0 for the VM's first vCPU, 1 for the next, ...
    unsigned index() const { return index_; }

    /// The fault being handled on this vCPU, or nullptr outside a handler.
    Fault* current_fault() const { return current_fault_; }
    /// The last access on this vCPU that ended in an error.
    const std::optional<FaultReport>& last_error() const { return last_error_; }

    /// The backend's part of the vCPU (e.g. for kvm:: or sim:: functions).
    VcpuBackend& backend() const { return *backend_; }

    /// An opaque pointer for the embedding layer (the C API keeps its handle here).
    void* user_data() const { return user_data_; }
    /// Sets the pointer user_data() returns.
    void set_user_data(void* data) { user_data_ = data; }

private:
    friend class Vm;
    friend class FaultDispatcher;

    Vm& vm_;
    unsigned index_;
    std::unique_ptr<VcpuBackend> backend_;
    std::unique_ptr<LookupCache> lookup_cache_;
    Fault* current_fault_ = nullptr;
    std::optional<FaultReport> last_error_;
    void* user_data_ = nullptr;
};

}  // namespace guestmem
