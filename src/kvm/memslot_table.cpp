// SPDX-License-Identifier: BSD-2-Clause
#include "memslot_table.hpp"

#include <algorithm>
#include <cstdio>
#include <iterator>
#include <string>
#include <vector>

#include "dirty_log.hpp"
#include "format.hpp"
#include "guestmem/log.hpp"

namespace guestmem::kvm {

namespace {

bool page_aligned(std::uint64_t v) { return (v & (kPageSize - 1)) == 0; }

// Only writes the hypervisor performs itself need logging, and only where a
// tracker can see them.
bool loggable(const MappedRun& run) { return run.writable() && run.dirty != nullptr; }

kvm_userspace_memory_region region_of(std::uint32_t id, const MappedRun& run, bool logged) {
    kvm_userspace_memory_region region{};
    region.slot = id;
    region.flags = run.writable() ? 0 : KVM_MEM_READONLY;
    if (logged) region.flags |= KVM_MEM_LOG_DIRTY_PAGES;
    region.guest_phys_addr = run.gpa;
    region.memory_size = run.size;
    region.userspace_addr = reinterpret_cast<std::uint64_t>(run.host);
    return region;
}

}  // namespace

MemslotTable::MemslotTable(std::uint32_t limit, Writer writer, DirtyOps dirty)
    : limit_(limit), writer_(std::move(writer)), dirty_ops_(std::move(dirty)) {}

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
    kvm_userspace_memory_region region = region_of(slot.id, slot.run, slot.logged);
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
        Slot slot{take_id(), run, logging_ && loggable(run)};
        if (auto written = writer_(region_of(slot.id, run, slot.logged)); !written) {
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
        if (slot.logged) {
            // KVM drops the slot's bitmap with the slot: its writes go to the
            // frames' log first. A write racing with the removal itself, after
            // this harvest and before KVM_SET_USER_MEMORY_REGION takes the slot
            // away, is not seen: KVM offers no way to read a deleted slot's bits.
            try {
                if (auto harvested = harvest_slot(slot); !harvested) {
                    log(LogLevel::warning, "guestmem: kvm: writes logged in memory slot " + std::to_string(slot.id) +
                                               " before its removal are lost: " + harvested.error().message);
                }
            } catch (...) {  // uninstall cannot fail: the slot goes all the same
                log(LogLevel::warning, "guestmem: kvm: could not harvest memory slot " + std::to_string(slot.id) +
                                           " before its removal: its logged writes are lost");
            }
        }
        slots_.erase(it);
        delete_slot(slot);
    }
}

Result<void> MemslotTable::start_logging(bool manual_clear) {
    std::lock_guard lock(mutex_);
    if (logging_) return {};
    if (!dirty_ops_.get || (manual_clear && !dirty_ops_.clear)) {
        return fail(Errc::unsupported, "this memory slot table cannot read KVM's dirty logs");
    }
    manual_clear_ = manual_clear;
    std::vector<Slot*> flagged;
    for (auto& [gpa, slot] : slots_) {
        if (slot.logged || !loggable(slot.run)) continue;
        if (auto written = writer_(region_of(slot.id, slot.run, true)); !written) {
            for (Slot* undo : flagged) {
                // Nothing was harvested yet, and nobody tracks: no bits to keep.
                if (writer_(region_of(undo->id, undo->run, false))) undo->logged = false;
            }
            return written;
        }
        slot.logged = true;
        flagged.push_back(&slot);
    }
    logging_ = true;
    return {};
}

void MemslotTable::stop_logging() noexcept {
    std::lock_guard lock(mutex_);
    logging_ = false;
    for (auto& [gpa, slot] : slots_) {
        if (!slot.logged) continue;
        bool cleared = false;
        try {
            cleared = static_cast<bool>(writer_(region_of(slot.id, slot.run, false)));
        } catch (...) {
        }
        if (cleared) {
            slot.logged = false;
        } else {
            // Still logging in KVM: it is harvested (and its bits marked) as before.
            log(LogLevel::warning,
                "guestmem: kvm: could not stop dirty logging of memory slot " + std::to_string(slot.id));
        }
    }
}

Result<void> MemslotTable::harvest() {
    std::lock_guard lock(mutex_);
    Result<void> first_failure;
    for (const auto& [gpa, slot] : slots_) {
        if (!slot.logged) continue;
        // One slot's failure must not cost the others their writes.
        if (auto harvested = harvest_slot(slot); !harvested && first_failure) first_failure = harvested;
    }
    return first_failure;
}

Result<void> MemslotTable::harvest_slot(const Slot& slot) {
    const std::uint64_t pages = slot.run.size / kPageSize;
    bitmap_.resize((pages + 63) / 64);  // KVM writes whole words: no need to clear
    if (auto got = dirty_ops_.get(slot.id, bitmap_.data()); !got) return got;
    if (std::all_of(bitmap_.begin(), bitmap_.end(), [](std::uint64_t word) { return word == 0; })) return {};
    Result<void> cleared;
    if (manual_clear_) cleared = dirty_ops_.clear(slot.id, pages, bitmap_.data());
    // Marked after the clear re-armed the pages, as a writer marks after its
    // store: a guest write to a reported page before the clear is then
    // followed by this mark, and one after the clear faults and is logged
    // by KVM anew. Marking first would let a tracker collect in between and
    // miss the write. On a failed clear the pages stay dirty in KVM and are
    // reported again: marking them is still right.
    std::byte* const host = slot.run.host;
    DirtyLog* const dirty = slot.run.dirty;
    std::uint64_t first = 0, count = 0;  // the run of consecutive dirty pages being gathered
    auto flush = [&] {
        if (count != 0) dirty->mark(host + first * kPageSize, count * kPageSize);
        count = 0;
    };
    for (std::size_t w = 0; w < bitmap_.size(); ++w) {
        for (std::uint64_t bits = bitmap_[w]; bits != 0; bits &= bits - 1) {
            const std::uint64_t page = w * 64 + static_cast<std::uint64_t>(__builtin_ctzll(bits));
            if (page >= pages) break;  // past the slot: KVM sets none there
            if (count != 0 && first + count == page) {
                ++count;
            } else {
                flush();
                first = page;
                count = 1;
            }
        }
    }
    flush();
    return cleared;
}

bool MemslotTable::logging() const {
    std::lock_guard lock(mutex_);
    return logging_;
}

std::size_t MemslotTable::logging_slots() const {
    std::lock_guard lock(mutex_);
    return static_cast<std::size_t>(
        std::count_if(slots_.begin(), slots_.end(), [](const auto& entry) { return entry.second.logged; }));
}

SlotUsage MemslotTable::usage() const {
    std::lock_guard lock(mutex_);
    return {slots_.size(), limit_};
}

}  // namespace guestmem::kvm
