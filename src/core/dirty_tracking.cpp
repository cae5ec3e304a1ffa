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
    ++tracking_starts_;
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

std::uint64_t Vm::dirty_tracking_starts() const {
    std::lock_guard lock(dirty_mutex_);
    return tracking_starts_;
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

Result<std::vector<std::vector<std::uint64_t>>> Vm::dirty_frame_pages(
    std::span<const std::shared_ptr<const Frame>> frames) {
    ApiCall call("Vm::dirty_frame_pages");
    if (!space_->initialized()) return fail(Errc::not_initialized, "memory is not initialised (call vm_memory_init)");
    for (const auto& frame : frames) {
        if (!frame) return fail(Errc::invalid_argument, "a frame is null");
    }
    std::lock_guard lock(dirty_mutex_);
    if (!tracker_) return fail(Errc::invalid_argument, "dirty tracking is off (call Vm::start_dirty_tracking)");
    if (auto ok = caps_->harvest_dirty(); !ok) return ok.error();
    std::vector<std::vector<std::uint64_t>> out;
    out.reserve(frames.size());
    for (const auto& frame : frames) {
        const std::uint64_t pages = frame->bytes() / kPageSize;
        std::vector<std::uint64_t> bits((pages + 63) / 64);
        frame->arena().dirty().collect(*tracker_, frame->host(), frame->bytes(),
                                       [&](std::uint64_t page) { bits[page / 64] |= std::uint64_t{1} << (page % 64); });
        out.push_back(std::move(bits));
    }
    writer_fence();  // as in dirty_pages(): the data of writers that skipped a cleared bit
    return out;
}

Result<void> Vm::redirty_frame_pages(std::span<const std::shared_ptr<const Frame>> frames,
                                     const std::vector<std::vector<std::uint64_t>>& pages) {
    ApiCall call("Vm::redirty_frame_pages");
    if (pages.size() != frames.size()) {
        return fail(Errc::invalid_argument,
                    std::to_string(pages.size()) + " page sets for " + std::to_string(frames.size()) + " frames");
    }
    for (std::size_t i = 0; i < frames.size(); ++i) {
        if (!frames[i]) return fail(Errc::invalid_argument, "a frame is null");
        if (pages[i].size() != (frames[i]->bytes() / kPageSize + 63) / 64) {
            return fail(Errc::invalid_argument, "the page set of frame " + std::to_string(i) + " has " +
                                                    std::to_string(pages[i].size()) + " words, not one bit per page");
        }
    }
    std::lock_guard lock(dirty_mutex_);
    if (!tracker_) return fail(Errc::invalid_argument, "dirty tracking is off (call Vm::start_dirty_tracking)");
    for (std::size_t i = 0; i < frames.size(); ++i) {
        frames[i]->arena().dirty().mark_again(*tracker_, frames[i]->host(), pages[i], frames[i]->bytes());
    }
    return {};
}

Result<AddressSpaceLayout> Vm::layout() const {
    ApiCall call("Vm::layout");
    if (!space_->initialized()) return fail(Errc::not_initialized, "memory is not initialised (call vm_memory_init)");
    auto out = space_->layout();
    if (!out) return out.error();
    std::lock_guard lock(doorbells_mutex_);
    for (const auto& [id, match] : doorbell_matches_) {
        for (ReservationLayout& r : out->reservations) {
            if (r.info.id == id) r.info.doorbell_match = match;
        }
    }
    return out;
}

}  // namespace guestmem
