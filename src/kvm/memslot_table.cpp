// SPDX-License-Identifier: BSD-2-Clause
#include "memslot_table.hpp"

#include <algorithm>
#include <cstdio>
#include <iterator>
#include <string>
#include <vector>

#include "guestmem/log.hpp"
#include "format.hpp"

namespace guestmem::kvm {

namespace {

bool page_aligned(std::uint64_t v) { return (v & (kPageSize - 1)) == 0; }

kvm_userspace_memory_region region_of(std::uint32_t id, const MappedRun& run) {
    kvm_userspace_memory_region region{};
    region.slot = id;
    region.flags = run.writable() ? 0 : KVM_MEM_READONLY;
    region.guest_phys_addr = run.gpa;
    region.memory_size = run.size;
    region.userspace_addr = reinterpret_cast<std::uint64_t>(run.host);
    return region;
}

}  // namespace

MemslotTable::MemslotTable(std::uint32_t limit, Writer writer) : limit_(limit), writer_(std::move(writer)) {}

Result<void> MemslotTable::check(std::span<const MappedRun> runs) const {
    // Ids of slots KVM failed to delete are never reused, so count ids, not slots.
    const std::size_t free_slots = (limit_ - next_id_) + free_ids_.size();
    if (runs.size() > free_slots) {
        return fail(Errc::out_of_memory, "KVM memory slots exhausted: " + std::to_string(runs.size()) + " needed, " +
                                             std::to_string(free_slots) + " of " + std::to_string(limit_) + " free");
    }
    for (const MappedRun& run : runs) {
        if (run.size == 0 || !page_aligned(run.gpa) || !page_aligned(run.size) ||
            !page_aligned(reinterpret_cast<std::uintptr_t>(run.host)) || !fits_address_space(run.gpa, run.size)) {
            return fail(Errc::invalid_argument,
                        "run at " + hex(run.gpa) + " of " + hex(run.size) + " bytes is not page aligned or is empty");
        }
        if (!has_rights(run.rights, Rights::read)) {
            return fail(Errc::invalid_argument, "run at " + hex(run.gpa) + " has no read right");
        }
        const Range range{run.gpa, run.size};
        auto next = slots_.lower_bound(run.gpa);
        const bool hits_next = next != slots_.end() &&
                               range.overlaps(Range{next->second.run.gpa, next->second.run.size});
        const bool hits_prev = next != slots_.begin() &&
                               range.overlaps(Range{std::prev(next)->second.run.gpa, std::prev(next)->second.run.size});
        if (hits_next || hits_prev) {
            return fail(Errc::invalid_argument, "run at " + hex(run.gpa) + " overlaps installed guest memory");
        }
    }
    // Runs of one call must not overlap each other either: sorted, only neighbours can.
    std::vector<Range> sorted;
    sorted.reserve(runs.size());
    for (const MappedRun& run : runs) sorted.push_back(Range{run.gpa, run.size});
    std::sort(sorted.begin(), sorted.end(), [](const Range& a, const Range& b) { return a.base < b.base; });
    for (std::size_t i = 1; i < sorted.size(); ++i) {
        if (sorted[i - 1].overlaps(sorted[i])) {
            return fail(Errc::invalid_argument, "runs at " + hex(sorted[i].base) + " overlap");
        }
    }
    return {};
}

std::uint32_t MemslotTable::take_id() {
    if (!free_ids_.empty()) {
        const std::uint32_t id = *free_ids_.begin();
        free_ids_.erase(free_ids_.begin());
        return id;
    }
    return next_id_++;
}

void MemslotTable::delete_slot(const Slot& slot) noexcept {
    kvm_userspace_memory_region region = region_of(slot.id, slot.run);
    region.memory_size = 0;  // size 0 deletes the slot
    bool deleted = false;
    try {
        deleted = writer_(region).ok();
    } catch (...) {
    }
    if (deleted) {
        free_ids_.insert(slot.id);
    } else {
        // KVM still holds the slot: its id stays out of the free list for good.
        log(LogLevel::warning, "guestmem: kvm: could not delete memory slot " + std::to_string(slot.id));
    }
}

Result<void> MemslotTable::install(std::span<const MappedRun> runs) {
    std::lock_guard lock(mutex_);
    if (auto checked = check(runs); !checked) return checked;
    std::vector<Slot> created;
    created.reserve(runs.size());
    for (const MappedRun& run : runs) {
        Slot slot{take_id(), run};
        if (auto written = writer_(region_of(slot.id, run)); !written) {
            free_ids_.insert(slot.id);
            for (auto it = created.rbegin(); it != created.rend(); ++it) {
                slots_.erase(it->run.gpa);
                delete_slot(*it);
            }
            return written;
        }
        slots_.emplace(run.gpa, slot);
        created.push_back(slot);
    }
    return {};
}

void MemslotTable::uninstall(std::span<const MappedRun> runs) noexcept {
    std::lock_guard lock(mutex_);
    for (const MappedRun& run : runs) {
        auto it = slots_.find(run.gpa);
        if (it == slots_.end() || it->second.run.size != run.size || it->second.run.host != run.host) continue;
        const Slot slot = it->second;
        slots_.erase(it);
        delete_slot(slot);
    }
}

SlotUsage MemslotTable::usage() const {
    std::lock_guard lock(mutex_);
    return {slots_.size(), limit_};
}

}  // namespace guestmem::kvm
