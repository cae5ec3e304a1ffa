// SPDX-License-Identifier: BSD-2-Clause
// VMM-side access to guest memory: Vm::visit_memory and the checked copies of
// guestmem/guest_memory.hpp (their copy loops are in guest_copy.cpp).
#include "guestmem/guest_memory.hpp"

#include <algorithm>
#include <string>
#include <vector>

#include "access_split.hpp"
#include "dirty_log.hpp"
#include "address_space.hpp"
#include "format.hpp"
#include "guest_units.hpp"
#include "region_index.hpp"

namespace guestmem {

namespace {

/// Leaves every reservation a visit entered, on every path out of it.
class HeldReservations {
public:
    HeldReservations() = default;
    HeldReservations(const HeldReservations&) = delete;
    HeldReservations& operator=(const HeldReservations&) = delete;
    ~HeldReservations() {
        // Innermost first, the order Reservation::leave expects on this thread.
        for (auto it = entered_.rbegin(); it != entered_.rend(); ++it) (*it)->leave();
    }
    void add(Reservation* reservation) { entered_.push_back(reservation); }

private:
    std::vector<Reservation*> entered_;
};

/// Asks for the first cache lines of `host` (up to kPrefetchBytes), for
/// writing when the visit writes.
void prefetch_start(std::span<std::byte> host, bool for_write) {
    constexpr std::size_t kPrefetchBytes = 512;
    constexpr std::size_t kLine = 64;
    const std::size_t bytes = std::min(host.size(), kPrefetchBytes);
    for (std::size_t offset = 0; offset < bytes; offset += kLine) {
        if (for_write) {
            __builtin_prefetch(host.data() + offset, 1);
        } else {
            __builtin_prefetch(host.data() + offset, 0);
        }
    }
}

}  // namespace

Result<void> Vm::visit_memory(GuestAddr addr, std::uint64_t size, Rights needed, const MemoryVisitor& visitor) {
    ApiCall call("Vm::visit_memory");
    if (!space_->initialized()) return fail(Errc::not_initialized, "memory is not initialised (call vm_memory_init)");
    if (!visitor) return fail(Errc::invalid_argument, "visitor is empty");
    if (!ends_within_address_space(addr, size)) {
        return fail(Errc::invalid_argument,
                    "range at " + hex(addr) + " of size " + hex(size) + " wraps past the top of the address space");
    }
    if (size == 0) return {};
    const bool need_write = has_rights(needed, Rights::write);
    // Positions are counted as offsets from addr: a range may end exactly at
    // 2^64, where an end address would wrap to 0.

    // A private cache: the snapshot it holds keeps every reservation found in
    // it alive for the whole visit, whatever other threads do to the index.
    LookupCache cache;
    const RegionSnapshot& snapshot = space_->index().view(cache);
    HeldReservations held;
    std::vector<GuestChunk> chunks;
    chunks.reserve(std::min<std::uint64_t>(size / kPageSize + 2, 1024));  // RAM is mostly mapped in pages

    // First check the whole range (holding each reservation against a
    // concurrent free), then visit: a failed call has visited nothing.
    std::uint64_t done = 0;
    while (done < size) {
        const GuestAddr at = addr + done;
        Reservation* reservation = snapshot.find(at);
        if (!reservation || !reservation->try_enter()) {
            return fail(Errc::not_mapped,
                        hex(at) + " (in " + describe(Range{addr, size}) + ") is not in any reservation");
        }
        held.add(reservation);
        if (!reservation->frames() && reservation->has_deferred()) {
            if (auto ok = space_->complete_deferred(*reservation); !ok) return ok;
        }
        const FrameMap* frames = reservation->frames();
        // The bytes of the range this reservation holds, from `at`.
        const std::uint64_t stop = done + bytes_held(at, reservation->range().last(), size - done);
        const MappedRun* run = frames ? frames->find(at) : nullptr;
        while (done < stop) {
            const GuestAddr here = addr + done;
            if (!run) {
                return fail(Errc::not_mapped, hex(here) + " (in " + describe(Range{addr, size}) +
                                                  ") has no readable frame mapped in the reservation " +
                                                  describe(reservation->range()));
            }
            if (need_write && !run->writable()) {
                return fail(Errc::permission_denied,
                            hex(here) + " (in " + describe(Range{addr, size}) + ") is mapped read-only");
            }
            const std::uint64_t piece = bytes_held(here, run->gpa + (run->size - 1), stop - done);
            chunks.push_back(GuestChunk{
                here, {run->host + (here - run->gpa), static_cast<std::size_t>(piece)}, done, run->rights, run->dirty});
            done += piece;
            if (done < stop) run = frames->adjacent(*run);
        }
    }
    // The visitor is the caller's code: API calls it makes name themselves.
    ApiCall::UserCode user_code;
    for (std::size_t i = 0; i < chunks.size(); ++i) {
        const GuestChunk& chunk = chunks[i];
        // The hardware prefetchers stop at page boundaries, and the next
        // chunk is elsewhere in host memory: start fetching its first lines
        // while this one is visited.
        if (i + 1 < chunks.size()) prefetch_start(chunks[i + 1].host, need_write);
        auto ok = visitor(chunk);
        if (need_write) record_write(chunk);  // after the visitor stored: see dirty_log.hpp
        if (!ok) return ok;
    }
    return {};
}

/// read_guest/write_guest's fast path, inline in each: most copies (a
/// descriptor, a ring index) lie in one run of frames and take no lock, no
/// allocation and no visitor; a copy of one aligned 1, 2, 4 or 8-byte unit is
/// one access.
struct GuestCopy {
    template <bool kToGuest>
    [[gnu::always_inline]] static bool in_one_run(Vm& vm, GuestAddr addr, std::byte* to, const std::byte* from,
                                                  std::size_t size, Rights needed) {
        AddressSpace& space = *vm.space_;
        if (size == 0 || !ends_within_address_space(addr, size) || !space.initialized()) return false;
        ThreadInside& inside = ThreadInside::mine();
        ThreadLookup& lookup = space.index().thread_lookup();
        // A run remembered for addr is the answer once its reservation is
        // entered (it is then live, and so still the one holding addr).
        Reservation* reservation = nullptr;
        const MappedRun* run = nullptr;
        if (const RememberedRun* remembered = RegionIndex::remembered(lookup, addr);
            remembered && remembered->owner->try_enter(inside)) {
            reservation = remembered->owner;
            run = &remembered->run;
        } else {
            reservation = space.index().enter_holder(lookup.cache, addr, inside);
            if (!reservation) return false;
            run = RegionIndex::run_of(lookup, *reservation, addr);
        }
        // run->end() - addr counts the bytes to the run's end, also for a run
        // ending at 2^64 (end() wraps to 0).
        const bool done = run && size <= run->end() - addr && has_rights(run->rights, needed);
        std::byte* host = done ? run->host + (addr - run->gpa) : nullptr;
        // The write is recorded after the leave, whose fence (usually)
        // orders it before the dirty bits are read: one fence, not two. The
        // log outlives the reservation (it belongs to the frames' arena,
        // which lives as long as the capability space the VM holds).
        DirtyLog* dirty = done && kToGuest ? run->dirty : nullptr;
        if (done) {
            if constexpr (kToGuest) {
                if (guest_units::one_aligned_unit(host, size)) {
                    guest_units::write_unit(host, from, size);
                } else {
                    copy_to_guest_memory({host, size}, {from, size});
                }
            } else if (guest_units::one_aligned_unit(host, size)) {
                guest_units::read_unit(to, host, size);
            } else {
                copy_from_guest_memory({to, size}, {host, size});
            }
        }
        const bool fenced = reservation->leave_fenced(inside);
        if (dirty) {
            if (fenced) {
                dirty->mark_fenced(host, size);
            } else {
                dirty->mark(host, size);
            }
        }
        return done;
    }
};

bool Vm::copy_within_one_run(GuestAddr addr, std::span<std::byte> mine, std::span<const std::byte> from_mine,
                             Rights needed) {
    if (mine.empty())
        return GuestCopy::in_one_run<true>(*this, addr, nullptr, from_mine.data(), from_mine.size(), needed);
    return GuestCopy::in_one_run<false>(*this, addr, mine.data(), nullptr, mine.size(), needed);
}

namespace {

// The general paths check the whole range before copying, and are the only
// ones that can fail, so the only ones that name the call. Out of line: the
// fast path stays small.
[[gnu::noinline]] Result<void> read_guest_by_visit(Vm& vm, GuestAddr addr, std::span<std::byte> bytes) {
    ApiCall call("read_guest");
    return vm.visit_memory(addr, bytes.size(), Rights::read, [bytes](const GuestChunk& chunk) -> Result<void> {
        copy_from_guest_memory(bytes.subspan(static_cast<std::size_t>(chunk.offset), chunk.host.size()), chunk.host);
        return {};
    });
}

[[gnu::noinline]] Result<void> write_guest_by_visit(Vm& vm, GuestAddr addr, std::span<const std::byte> bytes,
                                                    Rights needed) {
    ApiCall call("write_guest");
    return vm.visit_memory(addr, bytes.size(), needed, [bytes](const GuestChunk& chunk) -> Result<void> {
        copy_to_guest_memory(chunk.host, bytes.subspan(static_cast<std::size_t>(chunk.offset), chunk.host.size()));
        record_write(chunk);  // also under Rights::read (the VMM writing read-only memory)
        return {};
    });
}

}  // namespace

Result<void> read_guest(Vm& vm, GuestAddr addr, std::span<std::byte> bytes) {
    if (GuestCopy::in_one_run<false>(vm, addr, bytes.data(), nullptr, bytes.size(), Rights::read)) return {};
    return read_guest_by_visit(vm, addr, bytes);
}

Result<void> write_guest(Vm& vm, GuestAddr addr, std::span<const std::byte> bytes, WriteRights rights) {
    const Rights needed = rights == WriteRights::guest ? Rights::read_write : Rights::read;
    if (GuestCopy::in_one_run<true>(vm, addr, nullptr, bytes.data(), bytes.size(), needed)) return {};
    return write_guest_by_visit(vm, addr, bytes, needed);
}

Result<void> fill_guest(Vm& vm, GuestAddr addr, std::uint64_t size, std::byte value, WriteRights rights) {
    ApiCall call("fill_guest");
    const Rights needed = rights == WriteRights::guest ? Rights::read_write : Rights::read;
    return vm.visit_memory(addr, size, needed, [value](const GuestChunk& chunk) -> Result<void> {
        fill_guest_memory(chunk.host, value);
        record_write(chunk);
        return {};
    });
}

}  // namespace guestmem
