// SPDX-License-Identifier: BSD-2-Clause
// The reservations, anonymous pools and mappings of one VM.
#pragma once

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "anon_pool.hpp"
#include "free_waits.hpp"
#include "guestmem/backend.hpp"
#include "guestmem/capability_space.hpp"
#include "guestmem/vm.hpp"
#include "region_index.hpp"
#include "reservation.hpp"

namespace guestmem {

/// Owns the state behind Vm's address-space functions and enforces the rules
/// of docs/concepts.md ("Reservations", "Anonymous pools", "Frames, capabilities and rights"):
/// every rejected call leaves the state as it was.
///
/// Thread safety: changes are serialised by one mutex, held for the whole
/// change (including map iterators, so a deferred mapping runs once). Lookups
/// go through index(), which takes no lock while the map is unchanged.
/// The doorbell reservation whose handler runs on this thread (none outside
/// one): a doorbell handler may not free its own reservation.
ReservationId& doorbell_running_on_this_thread();

class AddressSpace {
public:
    AddressSpace(Backend& backend, CapabilitySpace& caps);
    ~AddressSpace();
    AddressSpace(const AddressSpace&) = delete;
    AddressSpace& operator=(const AddressSpace&) = delete;

    Result<void> init();
    bool initialized() const { return initialized_.load(std::memory_order_acquire); }

    /// Makes the backend's fast path for a reservation about to be inserted
    /// (called with the change lock held, after every check); nullptr: none.
    using FastPathFactory = std::function<Result<std::unique_ptr<FastPath>>()>;

    Result<ReservationId> reserve_at(GuestAddr addr, std::uint64_t size, FaultHandler handler,
                                     ReservationKind kind = ReservationKind::regular,
                                     const FastPathFactory& fast_path = {});
    Result<void> make_anon(GuestAddr addr, std::uint64_t size);
    Result<Vm::AnonReservation> reserve_anon(std::uint64_t size, std::uint64_t align, FaultHandler handler);
    Result<ReservationId> reserve_anon_at(GuestAddr addr, std::uint64_t size, FaultHandler handler);
    Result<void> free(ReservationId id);
    Result<void> map(ReservationId id, MapIterator iterator, bool deferred);
    Result<Range> region(ReservationId id) const;
    /// Runs the reservation's deferred mapping if it still has one.
    Result<void> complete_deferred(Reservation& reservation);
    Result<void> ensure_mapped(ReservationId id);
    /// Runs the deferred mapping of the reservation holding `addr`, if it has
    /// one; true when it had (the reservation is mapped now, by this call or
    /// by another thread meanwhile), false when no reservation holds `addr`
    /// or its mapping was not deferred.
    Result<bool> complete_deferred_at(GuestAddr addr);

    std::vector<ReservationInfo> reservation_infos() const;
    Result<std::vector<FrameMapping>> frame_mappings(ReservationId id) const;
    /// Calls `visit` with every mapped run overlapping `range` (non-empty), in
    /// address order, with the change lock held: the frames stay mapped.
    /// Errors: Errc::reentrant_call (from a map iterator).
    Result<void> for_each_run(Range range, const std::function<void(const MappedRun&)>& visit) const;
    std::vector<PoolInfo> pool_infos() const;
    /// Reservations with their frames and the pools, under one change lock.
    Result<AddressSpaceLayout> layout() const;
    const RegionIndex& index() const { return index_; }

    /// Frees everything (the VM is going away).
    void clear();

private:
    class ChangeLock;

    Result<void> check_new_range(GuestAddr addr, std::uint64_t size) const;
    Result<std::shared_ptr<Reservation>> find_by_id(ReservationId id) const;
    Result<std::unique_ptr<FrameMap>> collect_frames(const Reservation& reservation, const MapIterator& iterator);
    Result<void> map_now(Reservation& reservation, const MapIterator& iterator);
    void insert(std::shared_ptr<Reservation> reservation);
    void unmap(Reservation& reservation);

    Backend& backend_;
    CapabilitySpace& caps_;
    std::atomic<bool> initialized_{false};

    // Lock order (outermost first; a thread holding one lock takes only
    // locks further down): a doorbell's call lock (user code runs under it),
    // Vm::vcpus_mutex_, this change_mutex_, then the leaves it may take:
    // RegionIndex::mutex_, FreeWaits::mutex_, CapabilitySpace::mutex_ (then
    // FrameArena::mutex_ and the arena registry), the backend's own lock
    // (EmuBackend::mutex_, MemslotTable::mutex_). ThreadInside's registry lock
    // and GuestRam::mutex_ are taken with none of these held.
    mutable std::mutex change_mutex_;
    std::atomic<std::thread::id> changing_thread_{};
    RegionIndex index_;
    FreeWaits free_waits_;
    std::map<ReservationId, std::shared_ptr<Reservation>> by_id_;  // change_mutex_
    std::map<GuestAddr, AnonPool> pools_;                          // change_mutex_, keyed by base
};

}  // namespace guestmem
