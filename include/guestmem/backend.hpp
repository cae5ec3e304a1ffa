/// @file
/// The interface between the hypervisor-independent core and a hypervisor backend.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>

#include "guestmem/error.hpp"
#include "guestmem/types.hpp"

namespace guestmem {

class Vcpu;

/// A run of guest-physical memory backed by host memory that is contiguous in
/// both, with one set of rights (Rights::read or Rights::read_write).
struct MappedRun {
    GuestAddr gpa = 0;              ///< first guest-physical address
    std::uint64_t size = 0;         ///< bytes
    std::byte* host = nullptr;      ///< the VMM's view of the first byte
    Rights rights = Rights::none;   ///< Rights::read or Rights::read_write

    /// One past the last guest-physical address.
    GuestAddr end() const { return gpa + size; }
    /// True when the guest may write the run.
    bool writable() const { return has_rights(rights, Rights::write); }
};

/// The backend's part of a vCPU.
class VcpuBackend {
public:
    virtual ~VcpuBackend() = default;
    /// The guest instruction pointer at the current access.
    virtual GuestAddr instruction_pointer() = 0;
};

/// A hypervisor. The core tells it which guest memory is mapped; the backend
/// makes guest accesses to that memory hit it directly and delivers every other
/// access to the core's fault dispatch (Vm::dispatch).
///
/// Thread safety: install/uninstall/create_vcpu are serialised by the Vm;
/// they may run while vCPU threads run guests.
class Backend {
public:
    virtual ~Backend() = default;
    /// Which hypervisor this is.
    virtual BackendKind kind() const = 0;
    /// Makes the runs guest memory. All or nothing: on error nothing stays installed.
    virtual Result<void> install(std::span<const MappedRun> runs) = 0;
    /// Removes runs installed by one earlier install() call.
    virtual void uninstall(std::span<const MappedRun> runs) noexcept = 0;
    /// Creates the backend's part of a new vCPU of the Vm (called by Vm::create_vcpu).
    virtual Result<std::unique_ptr<VcpuBackend>> create_vcpu(Vcpu& vcpu) = 0;
};

}  // namespace guestmem
