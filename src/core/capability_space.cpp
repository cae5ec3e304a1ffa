// SPDX-License-Identifier: BSD-2-Clause
#include "guestmem/capability_space.hpp"

#include <unistd.h>

#include <string>

#include "frame_arena.hpp"

namespace guestmem {

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

CapabilitySpace::CapabilitySpace(Options options) : options_(options) {
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

}  // namespace guestmem
