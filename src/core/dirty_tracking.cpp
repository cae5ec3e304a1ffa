// SPDX-License-Identifier: BSD-2-Clause
// Vm's dirty-page tracking: a tracker slot of the capability space, whose
// bits every writer of the space's frames sets (see dirty_log.hpp).
#include <string>

#include "address_space.hpp"
#include "dirty_log.hpp"
#include "format.hpp"
#include "frame_arena.hpp"
#include "guestmem/log.hpp"
#include "guestmem/vm.hpp"
#include "thread_inside.hpp"

namespace guestmem {

void record_write(const GuestChunk& chunk) noexcept {
    if (chunk.dirty && !chunk.host.empty()) chunk.dirty->mark(chunk.host.data(), chunk.host.size());
}

Result<std::vector<FrameMapping>> Vm::frame_mappings(ReservationId id) const {
    ApiCall call("Vm::frame_mappings");
    if (!space_->initialized()) return fail(Errc::not_initialized, "memory is not initialised (call vm_memory_init)");
    return space_->frame_mappings(id);
}

Result<void> Vm::start_dirty_tracking() {
    ApiCall call("Vm::start_dirty_tracking");
    if (!space_->initialized()) return fail(Errc::not_initialized, "memory is not initialised (call vm_memory_init)");
    std::lock_guard lock(dirty_mutex_);
    if (tracker_) return fail(Errc::invalid_argument, "dirty tracking is already on");
    auto tracker = caps_->start_tracker();
    if (!tracker) return tracker.error();
    tracker_ = *tracker;
    return {};
}

Result<void> Vm::stop_dirty_tracking() {
    ApiCall call("Vm::stop_dirty_tracking");
    std::lock_guard lock(dirty_mutex_);
    if (!tracker_) return fail(Errc::invalid_argument, "dirty tracking is off");
    caps_->stop_tracker(*tracker_);
    tracker_.reset();
    return {};
}

bool Vm::dirty_tracking() const {
    std::lock_guard lock(dirty_mutex_);
    return tracker_.has_value();
}

Result<DirtyBitmap> Vm::dirty_pages(GuestAddr addr, std::uint64_t size) {
    ApiCall call("Vm::dirty_pages");
    if (!space_->initialized()) return fail(Errc::not_initialized, "memory is not initialised (call vm_memory_init)");
    if (addr % kPageSize != 0 || size % kPageSize != 0) {
        return fail(Errc::invalid_argument, "range " + describe(Range{addr, size}) + " is not page aligned");
    }
    if (size == 0 || !ends_within_address_space(addr, size)) {
        return fail(Errc::invalid_argument, "range at " + hex(addr) + " of size " + hex(size) +
                                                " is empty or wraps past the top of the address space");
    }
    // Held throughout: a stop while collecting would hand the slot to another VM.
    std::lock_guard lock(dirty_mutex_);
    if (!tracker_) return fail(Errc::invalid_argument, "dirty tracking is off (call Vm::start_dirty_tracking)");
    // Writes the hypervisors logged themselves (this VM's and every other
    // VM's sharing frames) join the frames' logs first.
    if (auto ok = caps_->harvest_dirty(); !ok) return ok.error();

    const Range range{addr, size};
    DirtyBitmap bitmap = DirtyBitmap::empty(range);
    const unsigned tracker = *tracker_;
    auto collected = space_->for_each_run(range, [&](const MappedRun& run) {
        if (!run.dirty) return;
        // The part of the run inside the range: runs are page aligned.
        const GuestAddr first = std::max(run.gpa, addr);
        const std::uint64_t bytes = std::min(run.gpa + (run.size - 1), range.last()) - first + 1;
        const std::uint64_t page_base = (first - addr) / kPageSize;
        run.dirty->collect(tracker, run.host + (first - run.gpa), bytes,
                           [&](std::uint64_t page) { bitmap.set(page_base + page); });
    });
    if (!collected) return collected.error();
    // Writers that skipped a bit this collection cleared stored their data
    // before: make it visible to a caller copying the pages (dirty_log.hpp).
    writer_fence();
    return bitmap;
}

}  // namespace guestmem
