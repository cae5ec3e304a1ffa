// SPDX-License-Identifier: BSD-2-Clause
/// @file
/// A guest access that trapped into the VMM, and what a handler can do with it.
#pragma once

#include <guestmem/export.h>

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>

#include "guestmem/types.hpp"

namespace guestmem {

class Vcpu;

/// What a fault handler decided. Same order and meaning as libsel4vm's
/// memory_fault_result_t; the meaning is the same on every backend.
enum class FaultResult {
    handled = 0,    ///< the access is complete; a read yields the data set on the Fault
    unhandled = 1,  ///< pass the access on to the VM's unhandled-fault handler
    restart = 2,    ///< the mappings changed: perform the access again
    ignore = 3,     ///< skip the access: a write is dropped, a read yields 0
    error = 4,      ///< stop the vCPU and report the access
};

/// One guest access: 1, 2, 4 or 8 bytes as handlers see it; Vm::dispatch
/// also takes the 3-, 5-, 6- and 7-byte fragments a hypervisor makes of an
/// access that crosses a page, and splits them.
struct Access {
    GuestAddr addr = 0;     ///< guest-physical address of the first byte
    std::uint8_t size = 0;  ///< bytes: 1, 2, 4 or 8 (1 to 8 for Vm::dispatch)
    bool is_write = false;  ///< true for a write
    /// For a write, the value written (least significant byte at addr); for a
    /// read, the value read once the access completes.
    std::uint64_t data = 0;
};

/// The access being handled, with libsel4vm's vCPU fault conventions. Valid
/// only during the handler call it is passed to, on that handler's thread.
class GUESTMEM_API Fault {
public:
    /// The library makes one per handler call; `base` is the first address of
    /// the reservation whose handler it is called (0 for the unhandled-fault
    /// handler).
    Fault(Vcpu& vcpu, const Access& access, GuestAddr base = 0) : vcpu_(vcpu), access_(access), base_(base) {}
    Fault(const Fault&) = delete;
    Fault& operator=(const Fault&) = delete;

    /// Guest-physical address of the access.
    GuestAddr address() const { return access_.addr; }
    /// Bytes from the start of the reservation to the access (its register
    /// offset, as Firecracker's bus and QEMU's memory regions give it), so a
    /// device model does not depend on where, or how aligned, it is placed.
    /// For the unhandled-fault handler, which has no reservation, the address.
    GuestAddr offset() const { return access_.addr - base_; }
    /// Bytes accessed: 1, 2, 4 or 8.
    std::size_t size() const { return access_.size; }
    /// True for a read.
    bool is_read() const { return !access_.is_write; }
    /// True for a write.
    bool is_write() const { return access_.is_write; }
    /// The value as the guest register holds it: for a write, the value written;
    /// for a read, what set_data stored so far (0 before).
    std::uint64_t data() const { return access_.data; }
    /// The access-size mask shifted left by (address & 3) * 8; all ones for 8 bytes.
    std::uint64_t data_mask() const;
    /// The guest instruction pointer of the access (fetched on first use).
    GuestAddr ip() const;

    /// Sets the value a read returns; only the access's size is kept.
    /// Inline: most handlers call it on every read.
    void set_data(std::uint64_t value) { access_.data = value & size_mask(access_.size); }
    /// For a write: `word` with the written value merged in at the accessed lane.
    /// For a read: libsel4vm's formula, (word & ~(mask >> s)) | ((data & mask) >> s).
    std::uint64_t emulate(std::uint64_t word) const;
    /// libsel4vm compatibility: note that the handler completed the access. The
    /// library advances the vCPU exactly once either way.
    void advance() { advanced_ = true; }
    /// libsel4vm compatibility: note that the handler wants the access retried.
    void restart() { restart_requested_ = true; }
    /// True once advance() was called.
    bool advance_requested() const { return advanced_; }
    /// True once restart() was called.
    bool restart_requested() const { return restart_requested_; }

    /// The faulting vCPU.
    Vcpu& vcpu() const { return vcpu_; }
    /// The access as the handler sees it (for a read, data is what set_data stored).
    const Access& access() const { return access_; }

private:
    Vcpu& vcpu_;
    Access access_;
    GuestAddr base_;
    bool advanced_ = false;
    bool restart_requested_ = false;
};

/// Handles faults in a reservation, or unhandled faults of a VM. May capture
/// state. Called on the faulting vCPU's thread, possibly on several threads at
/// once; it may reserve, map and free (including its own reservation).
using FaultHandler = std::function<FaultResult(Fault&)>;

/// Why a guest access ended in an error: the failure Vm::dispatch returns,
/// and what a run that it ended reports (RunResult::fault).
struct FaultReport {
    Access access;            ///< the access (address, size, direction, data)
    GuestAddr ip = 0;         ///< guest instruction pointer of the access
    const char* reason = "";  ///< why it failed (a static string)
};

/// For people: "guest read of 4 bytes at 0x5000 (ip 0x400000) failed: <reason>".
GUESTMEM_API std::string describe(const FaultReport& report);

}  // namespace guestmem
