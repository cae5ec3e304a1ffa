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
/// Thread safety: all members are safe to call concurrently (a mutex guards
/// the table; install/uninstall are rare and not on the fault path).
class MemslotTable {
public:
    /// Applies one region change to KVM (memory_size 0 deletes the slot).
    using Writer = std::function<Result<void>(const kvm_userspace_memory_region&)>;

    MemslotTable(std::uint32_t limit, Writer writer);
    MemslotTable(const MemslotTable&) = delete;
    MemslotTable& operator=(const MemslotTable&) = delete;

    /// Creates one slot per run. All or nothing: on error every slot this call
    /// created is deleted again. Errc::out_of_memory when the slots run out,
    /// Errc::invalid_argument for a run KVM cannot take (unaligned, empty,
    /// without read rights, overlapping an installed run).
    Result<void> install(std::span<const MappedRun> runs);
    /// Deletes exactly the slots holding these runs (installed earlier);
    /// runs that are not installed are ignored.
    void uninstall(std::span<const MappedRun> runs) noexcept;

    SlotUsage usage() const;

private:
    struct Slot {
        std::uint32_t id;
        MappedRun run;
    };

    Result<void> check(std::span<const MappedRun> runs) const;  // caller holds mutex_
    std::uint32_t take_id();                                    // caller holds mutex_; one is free
    void delete_slot(const Slot& slot) noexcept;                // caller holds mutex_

    const std::uint32_t limit_;
    const Writer writer_;
    mutable std::mutex mutex_;          // a leaf: after AddressSpace::change_mutex_
    std::map<GuestAddr, Slot> slots_;   // by first guest address
    std::set<std::uint32_t> free_ids_;  // ids below next_id_ that are free
    std::uint32_t next_id_ = 0;         // ids from here up were never used
};

}  // namespace guestmem::kvm
