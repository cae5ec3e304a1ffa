/// @file
/// The interface between the hypervisor-independent core and a hypervisor backend.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
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

/// A fast path a backend set up for one reservation (Backend::add_doorbell,
/// Backend::add_write_posting). The core owns it for the reservation's life.
class FastPath {
public:
    virtual ~FastPath() = default;
    /// Stops the hypervisor from taking the fast path: later guest accesses
    /// exit to the VMM as usual. Called by the core, under the VM's change
    /// lock, while the reservation is being freed; idempotent; must not wait
    /// for handlers. The destructor (called later, outside the lock) finishes
    /// the job: it delivers what is still pending and waits for delivery to end.
    virtual void detach() noexcept = 0;
};

/// A doorbell: guest writes of exactly `size` bytes at `addr` (with the value
/// `match`, if set) that the hypervisor can signal without a vCPU exit.
struct DoorbellSpec {
    GuestAddr addr = 0;                  ///< the doorbell register
    std::uint8_t size = 0;               ///< 1, 2, 4 or 8
    std::optional<std::uint64_t> match;  ///< only writes of this value ring
};

/// Receives `count` (at least 1) doorbell rings signalled since the last call.
using DoorbellRing = std::function<void(std::uint64_t count)>;

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

    // Optional fast paths. Both return nullptr when the backend has none (the
    // sim backend, or a KVM without the capability): the core then delivers
    // the accesses itself, synchronously, through fault dispatch, with the same
    // meaning. Called under the VM's change lock.

    /// Signals matching guest writes to `ring` on a backend thread, without a
    /// vCPU exit. Writes that do not match still reach Vm::dispatch.
    virtual Result<std::unique_ptr<FastPath>> add_doorbell(const DoorbellSpec& spec, DoorbellRing ring) {
        (void)spec;
        (void)ring;
        return std::unique_ptr<FastPath>();
    }
    /// Queues guest writes to `range` without a vCPU exit. The backend must hand
    /// every queued write to Vm::dispatch, in order, before it dispatches any
    /// other access of the VM (so a read of the device sees its earlier writes),
    /// and at the latest when the vCPU that made them next exits.
    virtual Result<std::unique_ptr<FastPath>> add_write_posting(Range range) {
        (void)range;
        return std::unique_ptr<FastPath>();
    }
};

}  // namespace guestmem
