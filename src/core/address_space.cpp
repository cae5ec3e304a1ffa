// SPDX-License-Identifier: BSD-2-Clause
#include "address_space.hpp"

#include <algorithm>
#include <optional>
#include <exception>
#include <string>

#include "format.hpp"

namespace guestmem {

namespace {

// Process-wide so that a reservation handle names one reservation of one VM
// (the C API resolves handles without a VM argument).
ReservationId next_reservation_id() {
    static std::atomic<std::uint64_t> next{1};
    return static_cast<ReservationId>(next.fetch_add(1, std::memory_order_relaxed));
}

bool is_power_of_two(std::uint64_t v) { return v != 0 && (v & (v - 1)) == 0; }
bool page_aligned(std::uint64_t v) { return (v & (kPageSize - 1)) == 0; }

std::string id_name(ReservationId id) { return "reservation " + std::to_string(static_cast<std::uint64_t>(id)); }

}  // namespace

/// Holds the change mutex; refuses a change from inside a map iterator of the
/// same address space (which would deadlock or change the map mid-mapping).
class AddressSpace::ChangeLock {
public:
    explicit ChangeLock(const AddressSpace& space) : space_(const_cast<AddressSpace&>(space)) {
        if (space_.changing_thread_.load(std::memory_order_relaxed) == std::this_thread::get_id()) return;
        lock_ = std::unique_lock(space_.change_mutex_);
        space_.changing_thread_.store(std::this_thread::get_id(), std::memory_order_relaxed);
    }
    ~ChangeLock() {
        if (lock_.owns_lock()) space_.changing_thread_.store(std::thread::id{}, std::memory_order_relaxed);
    }
    ChangeLock(const ChangeLock&) = delete;
    ChangeLock& operator=(const ChangeLock&) = delete;

    /// Ok unless this thread already holds the lock further up its stack.
    Result<void> check() const {
        if (lock_.owns_lock()) return {};
        return fail(Errc::reentrant_call, "called from a map iterator of the same VM");
    }

private:
    AddressSpace& space_;
    std::unique_lock<std::mutex> lock_;
};

AddressSpace::AddressSpace(Backend& backend, CapabilitySpace& caps) : backend_(backend), caps_(caps) {}

AddressSpace::~AddressSpace() { clear(); }

Result<void> AddressSpace::init() {
    ChangeLock lock(*this);
    if (auto ok = lock.check(); !ok) return ok;
    if (initialized()) return fail(Errc::already_initialized, "memory is already initialised");
    initialized_.store(true, std::memory_order_release);
    return {};
}

Result<void> AddressSpace::check_new_range(GuestAddr addr, std::uint64_t size) const {
    if (!initialized()) return fail(Errc::not_initialized, "memory is not initialised (call vm_memory_init)");
    if (size == 0) return fail(Errc::invalid_argument, "size is 0");
    if (!ends_within_address_space(addr, size)) {
        return fail(Errc::invalid_argument,
                    "range at " + hex(addr) + " of size " + hex(size) + " wraps past the top of the address space");
    }
    const Range range{addr, size};
    if (index_.overlaps(range)) {
        auto other = index_.find(addr);
        return fail(Errc::overlap, describe(range) + " overlaps a reservation" +
                                       (other ? " at " + describe(other->range()) : std::string()));
    }
    for (const auto& [base, pool] : pools_) {
        if (pool.range().overlaps(range)) {
            return fail(Errc::overlap, describe(range) + " overlaps the anonymous pool " + describe(pool.range()));
        }
    }
    return {};
}

void AddressSpace::insert(std::shared_ptr<Reservation> reservation) {
    by_id_.emplace(reservation->id(), reservation);
    index_.insert(std::move(reservation));
}

ReservationId& doorbell_running_on_this_thread() {
    thread_local ReservationId running = ReservationId::none;
    return running;
}

Result<ReservationId> AddressSpace::reserve_at(GuestAddr addr, std::uint64_t size, FaultHandler handler,
                                               ReservationKind kind, const FastPathFactory& fast_path) {
    ChangeLock lock(*this);
    if (auto ok = lock.check(); !ok) return ok.error();
    if (auto ok = check_new_range(addr, size); !ok) return ok.error();
    if (!handler) return fail(Errc::invalid_argument, "fault callback is NULL");
    std::unique_ptr<FastPath> fast;
    if (fast_path) {
        auto made = fast_path();
        if (!made) return made.error();
        fast = std::move(*made);
    }
    auto reservation = std::make_shared<Reservation>(next_reservation_id(), Range{addr, size}, std::move(handler),
                                                     /*anonymous=*/false, kind);
    reservation->fast_path() = std::move(fast);
    const ReservationId id = reservation->id();
    insert(std::move(reservation));
    return id;
}

Result<void> AddressSpace::make_anon(GuestAddr addr, std::uint64_t size) {
    ChangeLock lock(*this);
    if (auto ok = lock.check(); !ok) return ok;
    if (auto ok = check_new_range(addr, size); !ok) return ok;
    // Pools hand out [base, end) ranges by their end address; the last page
    // stays available to reserve_at.
    if (!fits_address_space(addr, size)) {
        return fail(Errc::invalid_argument,
                    "anonymous pool " + describe(Range{addr, size}) + " ends at 2^64; pools must end below it");
    }
    if (!page_aligned(addr) || !page_aligned(size)) {
        return fail(Errc::invalid_argument,
                    "anonymous pool " + describe(Range{addr, size}) + " is not page aligned (4 KiB)");
    }
    pools_.emplace(addr, AnonPool(Range{addr, size}));
    return {};
}

Result<Vm::AnonReservation> AddressSpace::reserve_anon(std::uint64_t size, std::uint64_t align, FaultHandler handler) {
    ChangeLock lock(*this);
    if (auto ok = lock.check(); !ok) return ok.error();
    if (!initialized()) return fail(Errc::not_initialized, "memory is not initialised (call vm_memory_init)");
    if (size == 0) return fail(Errc::invalid_argument, "size is 0");
    if (size > UINT64_MAX - (kPageSize - 1)) return fail(Errc::invalid_argument, "size " + hex(size) + " is too large");
    if (align != 0 && !is_power_of_two(align)) {
        return fail(Errc::invalid_argument, "alignment " + hex(align) + " is not a power of two");
    }
    if (!handler) return fail(Errc::invalid_argument, "fault callback is NULL");
    const std::uint64_t rounded = (size + kPageSize - 1) & ~(kPageSize - 1);
    const std::uint64_t alignment = std::max<std::uint64_t>(align, kPageSize);
    if (pools_.empty()) return fail(Errc::no_space, "there is no anonymous pool (call vm_memory_make_anon)");
    for (auto& [base, pool] : pools_) {
        auto addr = pool.allocate(rounded, alignment);
        if (!addr) continue;
        auto reservation = std::make_shared<Reservation>(next_reservation_id(), Range{*addr, rounded},
                                                         std::move(handler), /*anonymous=*/true);
        const ReservationId id = reservation->id();
        insert(std::move(reservation));
        return Vm::AnonReservation{id, *addr};
    }
    return fail(Errc::no_space, "no anonymous pool has " + hex(rounded) + " free bytes aligned to " + hex(alignment));
}

Result<ReservationId> AddressSpace::reserve_anon_at(GuestAddr addr, std::uint64_t size, FaultHandler handler) {
    ChangeLock lock(*this);
    if (auto ok = lock.check(); !ok) return ok.error();
    if (!initialized()) return fail(Errc::not_initialized, "memory is not initialised (call vm_memory_init)");
    if (size == 0) return fail(Errc::invalid_argument, "size is 0");
    if (!handler) return fail(Errc::invalid_argument, "fault callback is NULL");
    if (!page_aligned(addr) || !page_aligned(size) || !fits_address_space(addr, size)) {
        return fail(Errc::invalid_argument, describe(Range{addr, size}) + " is not page aligned (4 KiB) or wraps");
    }
    const Range range{addr, size};
    for (auto& [base, pool] : pools_) {
        if (!pool.range().contains(addr, size)) continue;
        if (!pool.allocate_at(range)) {
            return fail(Errc::overlap, describe(range) + " is not wholly free in its anonymous pool");
        }
        auto reservation = std::make_shared<Reservation>(next_reservation_id(), range, std::move(handler),
                                                         /*anonymous=*/true);
        const ReservationId id = reservation->id();
        insert(std::move(reservation));
        return id;
    }
    return fail(Errc::no_space, "no anonymous pool holds all of " + describe(range));
}

Result<std::shared_ptr<Reservation>> AddressSpace::find_by_id(ReservationId id) const {
    if (!initialized()) return fail(Errc::not_initialized, "memory is not initialised (call vm_memory_init)");
    auto it = by_id_.find(id);
    if (it == by_id_.end()) return fail(Errc::unknown_reservation, id_name(id) + " is unknown or already freed");
    return it->second;
}

void AddressSpace::unmap(Reservation& reservation) {
    reservation.deferred().reset();
    reservation.set_has_deferred(false);
    if (const FrameMap* frames = reservation.frames()) backend_.uninstall(frames->runs());
}

Result<void> AddressSpace::free(ReservationId id) {
    std::shared_ptr<Reservation> reservation;
    std::unique_ptr<FastPath> fast_path;             // destroyed (its delivery joined) outside the lock
    std::optional<FreeWaits::Registration> waiting;  // while this free waits for other threads
    {
        ChangeLock lock(*this);
        if (auto ok = lock.check(); !ok) return ok;
        auto found = find_by_id(id);
        if (!found) return found.error();
        if (id == doorbell_running_on_this_thread()) {
            return fail(Errc::reentrant_call, id_name(id) + ": a doorbell handler cannot free its own reservation");
        }
        const auto inside = Reservation::inside_on_this_thread();
        if (free_waits_.would_deadlock(found->get(), inside)) {
            return fail(Errc::would_deadlock,
                        id_name(id) + " has a handler running on another thread that is itself waiting, in a free, "
                                      "for a handler on this thread to return: the two frees would wait forever");
        }
        reservation = std::move(*found);
        // The hypervisor stops taking the fast path before the reservation
        // leaves the map: later accesses exit and find the map without it.
        fast_path = std::move(reservation->fast_path());
        if (fast_path) fast_path->detach();
        // Out of the index first: a lookup that still finds it enters before
        // the retirement below and is waited for; later ones never see it.
        index_.erase(reservation->range().base);
        by_id_.erase(id);
        // Unmapped before it is retired: the last dispatch to leave a retired
        // reservation releases its frames (Reservation::leave), which must
        // not happen while unmap still reads them.
        unmap(*reservation);
        reservation->retire();
        if (reservation->anonymous()) {
            auto pool = pools_.upper_bound(reservation->range().base);
            if (pool != pools_.begin()) std::prev(pool)->second.release(reservation->range());
        }
        // Registered before the lock is released, so a free that would close
        // a cycle with this one sees it.
        if (!inside.empty()) waiting.emplace(free_waits_.add(reservation.get(), {inside.begin(), inside.end()}));
    }
    // Outside the lock: a handler still running on another thread may itself
    // be changing the address space.
    const std::uint32_t own = reservation->entries_on_this_thread();
    reservation->wait_until_idle();
    waiting.reset();
    // With dispatches of this thread still inside, the last of them to leave
    // releases the frames (Reservation::leave).
    if (own == 0) reservation->release();
    fast_path.reset();
    return {};
}

Result<Range> AddressSpace::region(ReservationId id) const {
    ChangeLock lock(*this);
    if (auto ok = lock.check(); !ok) return ok.error();
    auto found = find_by_id(id);
    if (!found) return found.error();
    return (*found)->range();
}

Result<std::unique_ptr<FrameMap>> AddressSpace::collect_frames(const Reservation& reservation,
                                                               const MapIterator& iterator) {
    const Range& range = reservation.range();
    auto frames = std::make_unique<FrameMap>();
    GuestAddr addr = range.base;
    // Counted by offset: a range ending at 2^64 has end() == 0.
    while (addr - range.base < range.size) {
        FrameRequest request;
        try {
            ApiCall::UserCode user_code;
            request = iterator(addr);
        } catch (const std::exception& e) {
            return fail(Errc::bad_frame, "map iterator threw for " + hex(addr) + ": " + e.what());
        }
        // Built only for an error message: this loop runs once per frame.
        auto where = [&] { return "frame for " + hex(addr) + " of " + describe(range); };
        auto size = frame_size_from_bits(request.size_bits);
        if (!size) {
            return fail(Errc::bad_frame,
                        where() + ": size_bits " + std::to_string(request.size_bits) + " is not 12, 21 or 30");
        }
        if (request.cap == kNullCap) return fail(Errc::bad_capability, where() + ": capability is null");
        auto cap = caps_.lookup(request.cap);
        if (!cap)
            return fail(Errc::bad_capability, where() + ": capability " + std::to_string(request.cap) + " is not live");
        if (cap->frame->size() != *size) {
            return fail(Errc::bad_frame, where() + ": capability names a frame of " +
                                             std::to_string(cap->frame->bytes()) + " bytes but size_bits is " +
                                             std::to_string(request.size_bits));
        }
        if (request.addr != addr) {
            return fail(Errc::bad_frame, where() + ": frame vaddr is " + hex(request.addr) + ", expected " + hex(addr));
        }
        const std::uint64_t bytes = bytes_of(*size);
        if ((addr & (bytes - 1)) != 0) {
            return fail(Errc::bad_frame, where() + ": address is not aligned to the frame size " + hex(bytes));
        }
        if (!range.contains(addr, bytes)) {
            return fail(Errc::bad_frame, where() + ": frame of " + hex(bytes) + " bytes ends past the reservation");
        }
        frames->add(addr, std::move(cap->frame), request.rights & cap->rights);
        addr += bytes;
    }
    return frames;
}

Result<void> AddressSpace::map_now(Reservation& reservation, const MapIterator& iterator) {
    auto frames = collect_frames(reservation, iterator);
    if (!frames) return frames.error();
    if (auto ok = backend_.install((*frames)->runs()); !ok) return ok;
    reservation.publish(std::move(*frames));
    return {};
}

Result<void> AddressSpace::map(ReservationId id, MapIterator iterator, bool deferred) {
    ChangeLock lock(*this);
    if (auto ok = lock.check(); !ok) return ok;
    auto found = find_by_id(id);
    if (!found) return found.error();
    Reservation& reservation = **found;
    if (!iterator) return fail(Errc::invalid_argument, "map iterator is NULL");
    if (reservation.kind() != ReservationKind::regular) {
        return fail(Errc::invalid_argument, id_name(id) + " at " + describe(reservation.range()) +
                                                " is a doorbell or write-posting reservation: it cannot be mapped");
    }
    if (reservation.frames() || reservation.has_deferred()) {
        return fail(Errc::already_mapped, id_name(id) + " at " + describe(reservation.range()) + " is already mapped");
    }
    if (deferred) {
        reservation.deferred() = std::make_unique<MapIterator>(std::move(iterator));
        reservation.set_has_deferred(true);
        return {};
    }
    return map_now(reservation, iterator);
}

Result<void> AddressSpace::complete_deferred(Reservation& reservation) {
    ChangeLock lock(*this);
    if (auto ok = lock.check(); !ok) return ok;
    if (reservation.retired() || !reservation.has_deferred()) return {};  // freed, or another vCPU mapped it
    MapIterator iterator = std::move(*reservation.deferred());
    reservation.deferred().reset();
    // The flag stays set until the frames are published: a vCPU that faults
    // in the reservation meanwhile waits for this mapping (on the change lock)
    // instead of reaching the callback of a reservation about to be mapped.
    auto mapped = map_now(reservation, iterator);
    reservation.set_has_deferred(false);
    return mapped;
}

Result<void> AddressSpace::ensure_mapped(ReservationId id) {
    std::shared_ptr<Reservation> reservation;
    {
        ChangeLock lock(*this);
        if (auto ok = lock.check(); !ok) return ok;
        auto found = find_by_id(id);
        if (!found) return found.error();
        reservation = std::move(*found);
    }
    return complete_deferred(*reservation);
}

Result<bool> AddressSpace::complete_deferred_at(GuestAddr addr) {
    // The index answers without the change lock; complete_deferred takes it
    // and sees a free or another vCPU's mapping made since.
    std::shared_ptr<Reservation> reservation = index_.find(addr);
    if (!reservation || !reservation->has_deferred()) return false;
    if (auto ok = complete_deferred(*reservation); !ok) return ok.error();
    return true;
}

std::vector<ReservationInfo> AddressSpace::reservation_infos() const {
    std::vector<ReservationInfo> out;
    ChangeLock lock(*this);
    for (const auto& reservation : index_.all()) {
        ReservationInfo info;
        info.id = reservation->id();
        info.range = reservation->range();
        info.anonymous = reservation->anonymous();
        info.doorbell = reservation->kind() == ReservationKind::doorbell;
        info.write_posting = reservation->kind() == ReservationKind::write_posting;
        info.deferred = reservation->has_deferred();
        if (const FrameMap* frames = reservation->frames()) {
            info.mapped = true;
            info.frames = frames->frame_count();
            info.runs = frames->runs();
        }
        out.push_back(std::move(info));
    }
    return out;
}

Result<std::vector<FrameMapping>> AddressSpace::frame_mappings(ReservationId id) const {
    ChangeLock lock(*this);
    auto reservation = find_by_id(id);
    if (!reservation) return reservation.error();
    const FrameMap* frames = (*reservation)->frames();
    if (!frames) return std::vector<FrameMapping>{};
    return frames->frames();
}

Result<void> AddressSpace::for_each_run(Range range, const std::function<void(const MappedRun&)>& visit) const {
    ChangeLock lock(*this);
    if (auto ok = lock.check(); !ok) return ok;
    for (const auto& reservation : index_.all()) {
        if (!reservation->range().overlaps(range)) continue;
        const FrameMap* frames = reservation->frames();
        if (!frames) continue;
        for (const MappedRun& run : frames->runs()) {
            if (Range{run.gpa, run.size}.overlaps(range)) visit(run);
        }
    }
    return {};
}

std::vector<PoolInfo> AddressSpace::pool_infos() const {
    std::vector<PoolInfo> out;
    ChangeLock lock(*this);
    for (const auto& [base, pool] : pools_) out.push_back(PoolInfo{pool.range(), pool.free_bytes()});
    return out;
}

Result<AddressSpaceLayout> AddressSpace::layout() const {
    // Taken once here; the calls below run under it (the lock is per thread).
    ChangeLock lock(*this);
    if (auto ok = lock.check(); !ok) return ok.error();
    AddressSpaceLayout out;
    for (ReservationInfo& info : reservation_infos()) {
        ReservationLayout entry;
        const auto reservation = by_id_.find(info.id);
        if (reservation != by_id_.end()) {
            if (const FrameMap* frames = reservation->second->frames()) entry.frames = frames->frames();
        }
        entry.info = std::move(info);
        out.reservations.push_back(std::move(entry));
    }
    out.pools = pool_infos();
    return out;
}

void AddressSpace::clear() {
    std::vector<ReservationId> ids;
    {
        ChangeLock lock(*this);
        for (const auto& [id, reservation] : by_id_) ids.push_back(id);
    }
    for (ReservationId id : ids) (void)free(id);
}

}  // namespace guestmem
