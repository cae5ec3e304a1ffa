// SPDX-License-Identifier: BSD-2-Clause
#include "guestmem/guest_ram.hpp"

#include <algorithm>
#include <string>

#include "format.hpp"
#include "free_ranges.hpp"
#include "guestmem/log.hpp"

namespace guestmem {

namespace {

bool is_power_of_two(std::uint64_t v) { return v != 0 && (v & (v - 1)) == 0; }
bool page_aligned(std::uint64_t v) { return (v & (kPageSize - 1)) == 0; }

// RAM is mapped everywhere, so only an access a frame's rights refuse (a
// write to a read-only frame from a custom iterator) or one to a frame the
// iterator gave no read right reaches this handler. Say which, then stop the
// vCPU as libsel4vm's RAM fault callback does.
FaultResult ram_fault(Fault& fault) {
    log(LogLevel::error, std::string("guest RAM: guest ") + (fault.is_write() ? "write" : "read") + " of " +
                             std::to_string(fault.size()) + " bytes at " + hex(fault.address()) +
                             " is not allowed by the frame mapped there");
    return FaultResult::error;
}

/// RAM is kept as ranges by their end address, so it must end below 2^64
/// (the last page can still be an ordinary reservation).
Result<void> check_ends_below_top(GuestAddr start, std::uint64_t bytes) {
    if (fits_address_space(start, bytes)) return {};
    return fail(Errc::invalid_argument,
                "RAM at " + hex(start) + " of size " + hex(bytes) +
                    (ends_within_address_space(start, bytes) ? " ends at 2^64; RAM must end below it"
                                                             : " wraps past the top of the address space"));
}

/// The largest frame size that starts at `at` (by alignment) and fits before `end`.
FrameSize frame_size_for(GuestAddr at, GuestAddr end) {
    for (FrameSize size : {FrameSize::k1GiB, FrameSize::k2MiB}) {
        const std::uint64_t bytes = bytes_of(size);
        if ((at & (bytes - 1)) == 0 && end - at >= bytes) return size;
    }
    return FrameSize::k4KiB;
}

}  // namespace

struct GuestRam::State {
    // Both sets keep their ranges merged. `registered` is every byte of RAM
    // (used as a set of ranges, not as free space); `free` is the part of it
    // not allocated.
    FreeRanges registered;
    FreeRanges free;
    std::vector<ReservationId> reservations;
    std::vector<Cap> owned;  // capabilities of the frames the RAM allocated itself
};

GuestRam::GuestRam(Vm& vm) : vm_(vm), state_(std::make_unique<State>()) {}

GuestRam::~GuestRam() {
    // The Vm frees the reservations (and so the mappings); the capabilities
    // are ours to delete. A mapping still holding a frame keeps it alive.
    for (Cap cap : state_->owned) (void)vm_.capabilities().remove(cap);
}

Result<void> GuestRam::check_ready() const {
    if (!vm_.memory_initialized())
        return fail(Errc::not_initialized, "memory is not initialised (call vm_memory_init)");
    return {};
}

Result<std::vector<Cap>> GuestRam::allocate_frames(Range range, std::vector<FrameRequest>& plan) {
    std::vector<Cap> caps;
    for (GuestAddr at = range.base; at < range.end();) {
        const FrameSize size = frame_size_for(at, range.end());
        auto cap = vm_.capabilities().allocate_frame(size);
        if (!cap) {
            for (Cap allocated : caps) (void)vm_.capabilities().remove(allocated);
            return cap.error();
        }
        caps.push_back(*cap);
        plan.push_back(FrameRequest{*cap, Rights::read_write, at, bits_of(size)});
        at += bytes_of(size);
    }
    return caps;
}

Result<void> GuestRam::register_reserved(ReservationId id, Range range, const MapIterator& iterator,
                                         std::vector<Cap> owned) {
    if (auto mapped = vm_.map(id, iterator); !mapped) {
        // Mapping is all or nothing: freeing the reservation and our frames
        // leaves everything as before the call.
        (void)vm_.free(id);
        for (Cap cap : owned) (void)vm_.capabilities().remove(cap);
        return mapped;
    }
    std::lock_guard lock(mutex_);
    state_->registered.add(range.base, range.size);
    state_->free.add(range.base, range.size);
    state_->reservations.push_back(id);
    state_->owned.insert(state_->owned.end(), owned.begin(), owned.end());
    return {};
}

namespace {

/// Serves a precomputed frame plan to Vm::map; a shared plan keeps the
/// iterator cheap to copy and valid when mapping is deferred.
MapIterator plan_iterator(std::vector<FrameRequest> plan) {
    auto shared = std::make_shared<const std::vector<FrameRequest>>(std::move(plan));
    return [shared](GuestAddr addr) {
        auto it = std::lower_bound(shared->begin(), shared->end(), addr,
                                   [](const FrameRequest& r, GuestAddr a) { return r.addr < a; });
        return it != shared->end() && it->addr == addr ? *it : FrameRequest{};
    };
}

}  // namespace

Result<GuestAddr> GuestRam::register_anon(std::uint64_t bytes) {
    ApiCall call("GuestRam::register_anon");
    if (auto ok = check_ready(); !ok) return ok.error();
    if (bytes == 0) return fail(Errc::invalid_argument, "size is 0");
    if (bytes > UINT64_MAX - (kPageSize - 1))
        return fail(Errc::invalid_argument, "size " + hex(bytes) + " is too large");
    const std::uint64_t rounded = (bytes + kPageSize - 1) & ~(kPageSize - 1);
    auto reserved = vm_.reserve_anon(rounded, kPageSize, ram_fault);
    if (!reserved) return reserved.error();
    const Range range{reserved->addr, rounded};
    std::vector<FrameRequest> plan;
    auto caps = allocate_frames(range, plan);
    if (!caps) {
        (void)vm_.free(reserved->id);
        return caps.error();
    }
    if (auto ok = register_reserved(reserved->id, range, plan_iterator(std::move(plan)), std::move(*caps)); !ok) {
        return ok.error();
    }
    return range.base;
}

Result<void> GuestRam::register_at(GuestAddr start, std::uint64_t bytes) {
    ApiCall call("GuestRam::register_at");
    if (auto ok = check_ready(); !ok) return ok;
    if (bytes == 0) return fail(Errc::invalid_argument, "size is 0");
    if (!page_aligned(start) || !page_aligned(bytes)) {
        return fail(Errc::invalid_argument,
                    "RAM at " + hex(start) + " of size " + hex(bytes) + " is not page aligned (4 KiB)");
    }
    if (auto ok = check_ends_below_top(start, bytes); !ok) return ok;
    // reserve_at checks overlap and leaves nothing behind on error.
    auto id = vm_.reserve_at(start, bytes, ram_fault);
    if (!id) return id.error();
    const Range range{start, bytes};
    std::vector<FrameRequest> plan;
    auto caps = allocate_frames(range, plan);
    if (!caps) {
        (void)vm_.free(*id);
        return caps.error();
    }
    return register_reserved(*id, range, plan_iterator(std::move(plan)), std::move(*caps));
}

Result<void> GuestRam::register_at(GuestAddr start, std::uint64_t bytes, const MapIterator& iterator) {
    ApiCall call("GuestRam::register_at");
    if (auto ok = check_ready(); !ok) return ok;
    if (!iterator) return fail(Errc::invalid_argument, "map iterator is NULL");
    if (bytes != 0) {
        if (auto ok = check_ends_below_top(start, bytes); !ok) return ok;
    }
    auto id = vm_.reserve_at(start, bytes, ram_fault);
    if (!id) return id.error();
    return register_reserved(*id, Range{start, bytes}, iterator, {});
}

Result<void> GuestRam::register_anon_at(GuestAddr start, std::uint64_t bytes, const MapIterator& iterator) {
    ApiCall call("GuestRam::register_anon_at");
    if (auto ok = check_ready(); !ok) return ok;
    if (!iterator) return fail(Errc::invalid_argument, "map iterator is NULL");
    auto id = vm_.reserve_anon_at(start, bytes, ram_fault);
    if (!id) return id.error();
    return register_reserved(*id, Range{start, bytes}, iterator, {});
}

namespace {

Result<void> check_range(GuestAddr start, std::uint64_t bytes) {
    if (bytes == 0) return fail(Errc::invalid_argument, "size is 0");
    if (!fits_address_space(start, bytes)) {
        return fail(Errc::invalid_argument,
                    "range at " + hex(start) + " of size " + hex(bytes) + " wraps past the top of the address space");
    }
    return {};
}

}  // namespace

Result<void> GuestRam::mark_allocated(GuestAddr start, std::uint64_t bytes) {
    ApiCall call("GuestRam::mark_allocated");
    if (auto ok = check_ready(); !ok) return ok;
    if (auto ok = check_range(start, bytes); !ok) return ok;
    std::lock_guard lock(mutex_);
    if (!state_->registered.is_free(start, bytes)) {
        return fail(Errc::not_mapped, describe(Range{start, bytes}) + " is not wholly registered RAM");
    }
    (void)state_->free.take_within(start, bytes);
    return {};
}

Result<GuestAddr> GuestRam::allocate(std::uint64_t bytes, std::uint64_t align) {
    ApiCall call("GuestRam::allocate");
    if (auto ok = check_ready(); !ok) return ok.error();
    if (bytes == 0) return fail(Errc::invalid_argument, "size is 0");
    if (align == 0) align = 1;
    if (!is_power_of_two(align))
        return fail(Errc::invalid_argument, "alignment " + hex(align) + " is not a power of two");
    std::lock_guard lock(mutex_);
    if (state_->registered.total() == 0) return fail(Errc::no_space, "no RAM is registered");
    auto addr = state_->free.take(bytes, align);
    if (!addr) {
        auto largest = state_->free.largest();
        return fail(Errc::no_space, "no free RAM region holds " + hex(bytes) + " bytes aligned to " + hex(align) +
                                        (largest ? " (largest free region: " + describe(*largest) + ")"
                                                 : std::string(" (all RAM is allocated)")));
    }
    return *addr;
}

Result<void> GuestRam::free(GuestAddr start, std::uint64_t bytes) {
    ApiCall call("GuestRam::free");
    if (auto ok = check_ready(); !ok) return ok;
    if (auto ok = check_range(start, bytes); !ok) return ok;
    std::lock_guard lock(mutex_);
    if (!state_->registered.is_free(start, bytes)) {
        return fail(Errc::not_mapped, describe(Range{start, bytes}) + " is not wholly registered RAM");
    }
    if (state_->free.overlaps(start, bytes)) {
        return fail(Errc::invalid_argument, describe(Range{start, bytes}) + " is not wholly allocated (double free?)");
    }
    state_->free.add(start, bytes);
    return {};
}

Result<Range> GuestRam::largest_free_region() const {
    ApiCall call("GuestRam::largest_free_region");
    if (auto ok = check_ready(); !ok) return ok.error();
    std::lock_guard lock(mutex_);
    auto largest = state_->free.largest();
    if (!largest) {
        return fail(Errc::no_space, state_->registered.total() == 0 ? "no RAM is registered" : "all RAM is allocated");
    }
    return *largest;
}

std::vector<Range> GuestRam::regions() const {
    std::lock_guard lock(mutex_);
    return state_->registered.ranges();
}

std::vector<Range> GuestRam::free_regions() const {
    std::lock_guard lock(mutex_);
    return state_->free.ranges();
}

std::uint64_t GuestRam::total_bytes() const {
    std::lock_guard lock(mutex_);
    return state_->registered.total();
}

std::uint64_t GuestRam::free_bytes() const {
    std::lock_guard lock(mutex_);
    return state_->free.total();
}

bool GuestRam::contains(GuestAddr addr, std::uint64_t size) const {
    if (size == 0 || !fits_address_space(addr, size)) return false;
    std::lock_guard lock(mutex_);
    return state_->registered.is_free(addr, size);
}

bool GuestRam::owns(ReservationId id) const {
    std::lock_guard lock(mutex_);
    return std::find(state_->reservations.begin(), state_->reservations.end(), id) != state_->reservations.end();
}

}  // namespace guestmem
