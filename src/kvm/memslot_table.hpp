// SPDX-License-Identifier: BSD-2-Clause
// Which KVM memory slot holds which run of guest memory.
#pragma once

#include <linux/kvm.h>

#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <set>
#include <span>
#include <vector>

#include "guestmem/backend.hpp"
#include "guestmem/error.hpp"

namespace guestmem::kvm {

/// Slot usage of a KVM VM.
struct SlotUsage {
    std::size_t in_use = 0;  ///< memory slots holding guest memory now
    std::size_t limit = 0;   ///< slots this VM may use
};

/// Gives each MappedRun its own KVM memory slot (the core has already merged
/// frames contiguous in guest and host memory with equal rights into one run).
/// Read-only runs get KVM_MEM_READONLY so guest writes to them exit as MMIO.
///
/// Slot ids come from a free list (lowest first), so ids freed by uninstall are
/// reused and a VM never runs out of ids while it stays under the limit.
///
/// Dirty logging (start_logging): writable runs that have a DirtyLog get
/// KVM_MEM_LOG_DIRTY_PAGES, and harvest() moves KVM's per-slot bitmaps into
/// the frames' DirtyLog. Read-only runs are left alone: KVM never writes
/// them for the guest (a guest write exits to Vm::dispatch, and whatever
/// then writes the memory goes through the core, which marks it), and KVM
/// ignores the flag on them anyway (x86 kvm_mmu_slot_apply_flags).
///
/// Thread safety: all members are safe to call concurrently (a mutex guards
/// the table; install/uninstall are rare and not on the fault path).
///
/// Lock order: the capability space's tracker lock (held by the core around
/// start_logging, stop_logging and harvest), then mutex_. install/uninstall
/// come under the VM's change lock and never take the tracker lock, so they
/// cannot close a cycle; mutex_ is a leaf (DirtyLog::mark takes no lock).
class MemslotTable {
public:
    /// Applies one region change to KVM (memory_size 0 deletes the slot).
    using Writer = std::function<Result<void>(const kvm_userspace_memory_region&)>;

    /// KVM's side of dirty logging, one slot at a time.
    struct DirtyOps {
        /// KVM_GET_DIRTY_LOG: fills `bitmap` (one bit per page of the slot,
        /// whole 64-bit words).
        std::function<Result<void>(std::uint32_t slot, std::uint64_t* bitmap)> get;
        /// KVM_CLEAR_DIRTY_LOG of the pages set in `bitmap`, which covers the
        /// whole slot of `pages` pages (manual-protect mode only).
        std::function<Result<void>(std::uint32_t slot, std::uint64_t pages, std::uint64_t* bitmap)> clear;
    };

    MemslotTable(std::uint32_t limit, Writer writer, DirtyOps dirty = {});
    MemslotTable(const MemslotTable&) = delete;
    MemslotTable& operator=(const MemslotTable&) = delete;

    /// Creates one slot per run. All or nothing: on error every slot this call
    /// created is deleted again. Errc::out_of_memory when the slots run out,
    /// Errc::invalid_argument for a run KVM cannot take (unaligned, empty,
    /// without read rights, overlapping an installed run).
    Result<void> install(std::span<const MappedRun> runs);
    /// Deletes exactly the slots holding these runs (installed earlier);
    /// runs that are not installed are ignored. A logging slot is harvested
    /// first, since KVM frees its bitmap with it; only a guest write racing
    /// with the deletion itself (after that harvest, before KVM has removed
    /// the slot) can be missed.
    void uninstall(std::span<const MappedRun> runs) noexcept;

    SlotUsage usage() const;

    /// Re-registers every loggable slot with KVM_MEM_LOG_DIRTY_PAGES (same
    /// id, addresses and size, so KVM treats it as a flags-only change) and
    /// gives slots installed later the flag too. With `manual_clear` the VM
    /// has KVM_DIRTY_LOG_MANUAL_PROTECT_ENABLE on, and harvest() re-arms the
    /// pages it reports with KVM_CLEAR_DIRTY_LOG. All or nothing; idempotent.
    /// Errors: those of the writer (Errc::backend_error, Errc::out_of_memory).
    Result<void> start_logging(bool manual_clear);
    /// Re-registers the logging slots without the flag (KVM frees their
    /// bitmaps). A slot KVM refuses to change keeps logging and is logged.
    void stop_logging() noexcept;
    /// Moves the writes KVM logged in every logging slot since the last
    /// harvest into the frames' DirtyLog. Every slot is tried; the first
    /// failure is returned (Errc::backend_error with KVM's errno text).
    Result<void> harvest();
    /// True between start_logging() and stop_logging().
    bool logging() const;
    /// Slots KVM logs writes to now.
    std::size_t logging_slots() const;

private:
    struct Slot {
        std::uint32_t id;
        MappedRun run;
        bool logged = false;  // registered with KVM_MEM_LOG_DIRTY_PAGES
    };

    Result<void> check(std::span<const MappedRun> runs) const;  // caller holds mutex_
    std::uint32_t take_id();                                    // caller holds mutex_; one is free
    void delete_slot(const Slot& slot) noexcept;                // caller holds mutex_
    Result<void> harvest_slot(const Slot& slot);                // caller holds mutex_; slot.logged

    const std::uint32_t limit_;
    const Writer writer_;
    const DirtyOps dirty_ops_;
    mutable std::mutex mutex_;           // a leaf: after AddressSpace::change_mutex_ and the tracker lock
    std::map<GuestAddr, Slot> slots_;    // by first guest address
    std::set<std::uint32_t> free_ids_;   // ids below next_id_ that are free
    std::uint32_t next_id_ = 0;          // ids from here up were never used
    bool logging_ = false;               // between start_logging and stop_logging
    bool manual_clear_ = false;          // harvest() must KVM_CLEAR_DIRTY_LOG what it got
    std::vector<std::uint64_t> bitmap_;  // harvest_slot's buffer, kept to avoid an allocation per slot
};

}  // namespace guestmem::kvm
