// SPDX-License-Identifier: BSD-2-Clause
#include "guestmem/capability_space.hpp"

#include <unistd.h>

#include <algorithm>
#include <string>

#include "frame_arena.hpp"
#include "guestmem/backend.hpp"

namespace guestmem {

// Lock order: DirtyTrackers::mutex, then CapabilitySpace::mutex_ (to reach
// the arenas) or a source backend's own locks; never the other way round.
struct DirtyTrackers {
    struct Source {
        Backend* backend;
        bool logging;  // its start_dirty_log() succeeded
    };
    std::mutex mutex;
    std::uint64_t in_use = 0;  // bit t: tracker t exists
    std::vector<Source> sources;
    std::string refusal;  // why the last source that could not log could not

    /// Stops every source that is logging (the last tracker went, or the
    /// first could not start).
    void stop_sources() {
        for (auto& source : sources) {
            if (source.logging) source.backend->stop_dirty_log();
            source.logging = false;
        }
    }
};

namespace {

std::uint64_t host_memory_bytes() {
    long pages = sysconf(_SC_PHYS_PAGES);
    long page_size = sysconf(_SC_PAGESIZE);
    if (pages <= 0 || page_size <= 0) return std::uint64_t{1} << 34;
    return static_cast<std::uint64_t>(pages) * static_cast<std::uint64_t>(page_size);
}

std::string cap_name(Cap cap) { return "capability " + std::to_string(cap); }

}  // namespace

CapabilitySpace::CapabilitySpace() : CapabilitySpace(Options{}) {}

CapabilitySpace::CapabilitySpace(Options options) : options_(options), trackers_(std::make_unique<DirtyTrackers>()) {
    if (options_.frame_budget == 0) options_.frame_budget = host_memory_bytes();
    const std::uint64_t gib = std::uint64_t{1} << 30;
    if (options_.arena_bytes < gib) options_.arena_bytes = gib;
    options_.arena_bytes = (options_.arena_bytes + gib - 1) & ~(gib - 1);
}

CapabilitySpace::~CapabilitySpace() = default;

std::uint64_t CapabilitySpace::bytes_in_use_locked() const {
    std::uint64_t total = 0;
    for (const auto& arena : arenas_) total += arena->bytes_in_use();
    return total;
}

Result<Frame::Placement> CapabilitySpace::place(std::uint64_t bytes) {
    if (bytes > options_.frame_budget || bytes_in_use_locked() > options_.frame_budget - bytes) {
        return fail(Errc::out_of_memory,
                    "frame budget of " + std::to_string(options_.frame_budget) + " bytes exhausted");
    }
    for (const auto& arena : arenas_) {
        if (auto offset = arena->take(bytes)) return Frame::Placement{arena, *offset, arena->base() + *offset};
    }
    auto arena = FrameArena::create(options_.arena_bytes);
    if (!arena) return arena.error();
    auto offset = (*arena)->take(bytes);
    if (!offset) return fail(Errc::out_of_memory, "frame larger than an arena");
    // A new arena records for the trackers the older ones record for.
    for (std::uint64_t t = tracked_; t; t &= t - 1) {
        if (auto ok = (*arena)->dirty().attach(static_cast<unsigned>(__builtin_ctzll(t))); !ok) return ok.error();
    }
    arenas_.push_back(*arena);
    return Frame::Placement{*arena, *offset, (*arena)->base() + *offset};
}

Result<Cap> CapabilitySpace::allocate_frame(FrameSize size) {
    ApiCall call("CapabilitySpace::allocate_frame");
    std::lock_guard lock(mutex_);
    auto placement = place(bytes_of(size));
    if (!placement) return placement.error();
    auto frame = std::make_shared<Frame>(std::move(*placement), size);
    const Cap cap = next_cap_++;
    caps_.emplace(cap, CapabilityInfo{std::move(frame), Rights::all});
    return cap;
}

Result<Cap> CapabilitySpace::copy(Cap cap, Rights rights) {
    ApiCall call("CapabilitySpace::copy");
    std::lock_guard lock(mutex_);
    auto it = caps_.find(cap);
    if (it == caps_.end()) return fail(Errc::bad_capability, cap_name(cap) + " is not live");
    CapabilityInfo info{it->second.frame, it->second.rights & rights};
    const Cap copy = next_cap_++;
    caps_.emplace(copy, std::move(info));
    return copy;
}

Result<void> CapabilitySpace::remove(Cap cap) {
    ApiCall call("CapabilitySpace::remove");
    std::shared_ptr<Frame> last_ref;  // released after the lock: the frame may die here
    std::lock_guard lock(mutex_);
    auto it = caps_.find(cap);
    if (it == caps_.end()) return fail(Errc::bad_capability, cap_name(cap) + " is not live");
    last_ref = std::move(it->second.frame);
    caps_.erase(it);
    return {};
}

Result<CapabilityInfo> CapabilitySpace::lookup(Cap cap) const {
    ApiCall call("CapabilitySpace::lookup");
    std::lock_guard lock(mutex_);
    auto it = caps_.find(cap);
    if (it == caps_.end()) return fail(Errc::bad_capability, cap_name(cap) + " is not live");
    return it->second;
}

Result<std::span<std::byte>> CapabilitySpace::frame_memory(Cap cap) const {
    ApiCall call("CapabilitySpace::frame_memory");
    auto info = lookup(cap);
    if (!info) return info.error();
    return info->frame->memory();
}

std::size_t CapabilitySpace::live_capabilities() const {
    std::lock_guard lock(mutex_);
    return caps_.size();
}

std::uint64_t CapabilitySpace::frame_bytes_in_use() const {
    std::lock_guard lock(mutex_);
    return bytes_in_use_locked();
}

Result<unsigned> CapabilitySpace::start_tracker() {
    std::lock_guard trackers_lock(trackers_->mutex);
    if (trackers_->in_use == ~std::uint64_t{0}) {
        return fail(Errc::out_of_memory, "all " + std::to_string(DirtyLog::kTrackers) +
                                             " dirty trackers of this capability space are in use");
    }
    const auto tracker = static_cast<unsigned>(__builtin_ctzll(~trackers_->in_use));
    const bool first = trackers_->in_use == 0;
    if (first) {
        // Every VM on this space must log the writes its hypervisor performs:
        // a tracker must see writes through any VM's mapping of a shared frame.
        for (auto& source : trackers_->sources) {
            auto ok = source.backend->start_dirty_log();
            source.logging = static_cast<bool>(ok);
            if (!ok) {
                trackers_->stop_sources();
                return ok.error();
            }
        }
    }
    std::lock_guard lock(mutex_);
    for (std::size_t i = 0; i < arenas_.size(); ++i) {
        if (auto ok = arenas_[i]->dirty().attach(tracker); !ok) {
            while (i-- > 0) arenas_[i]->dirty().detach(tracker);
            if (first) trackers_->stop_sources();
            return ok.error();
        }
    }
    tracked_ |= std::uint64_t{1} << tracker;
    trackers_->in_use |= std::uint64_t{1} << tracker;
    return tracker;
}

void CapabilitySpace::stop_tracker(unsigned tracker) {
    std::lock_guard trackers_lock(trackers_->mutex);
    {
        std::lock_guard lock(mutex_);
        for (const auto& arena : arenas_) arena->dirty().detach(tracker);
        tracked_ &= ~(std::uint64_t{1} << tracker);
    }
    trackers_->in_use &= ~(std::uint64_t{1} << tracker);
    if (trackers_->in_use != 0) return;
    trackers_->stop_sources();
    trackers_->refusal.clear();
}

void CapabilitySpace::add_dirty_source(Backend& backend) {
    std::lock_guard trackers_lock(trackers_->mutex);
    bool logging = false;
    if (trackers_->in_use != 0) {
        // A VM joining while others track: its guest writes must be logged too.
        auto ok = backend.start_dirty_log();
        logging = static_cast<bool>(ok);
        if (!ok) trackers_->refusal = ok.error().message;
    }
    trackers_->sources.push_back({&backend, logging});
}

void CapabilitySpace::remove_dirty_source(Backend& backend) {
    std::lock_guard trackers_lock(trackers_->mutex);
    auto& sources = trackers_->sources;
    auto it = std::find_if(sources.begin(), sources.end(), [&](const auto& s) { return s.backend == &backend; });
    if (it == sources.end()) return;
    if (it->logging) {
        // Its last logged writes still count for the trackers.
        (void)it->backend->harvest_dirty_log();
        it->backend->stop_dirty_log();
    }
    sources.erase(it);
}

Result<void> CapabilitySpace::harvest_dirty() {
    std::lock_guard trackers_lock(trackers_->mutex);
    for (auto& source : trackers_->sources) {
        if (!source.logging) {
            return fail(Errc::unsupported,
                        "a VM sharing this capability space cannot track its guest writes (" +
                            (trackers_->refusal.empty() ? std::string("its backend refused") : trackers_->refusal) +
                            "): its writes to shared frames would be missed");
        }
        if (auto ok = source.backend->harvest_dirty_log(); !ok) return ok;
    }
    return {};
}

}  // namespace guestmem
