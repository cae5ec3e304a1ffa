// Finds the reservation holding a guest address, without locks on the fault path.
#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <vector>

#include "reservation.hpp"

namespace guestmem {

/// An immutable, sorted copy of the reservations: searched in O(log n).
class RegionSnapshot {
public:
    explicit RegionSnapshot(const std::map<GuestAddr, std::shared_ptr<Reservation>>& live);
    /// The reservation whose range holds `addr`, or nullptr.
    Reservation* find(GuestAddr addr) const;
    /// Shared ownership of a reservation find() returned.
    std::shared_ptr<Reservation> share(const Reservation* found) const;
    std::size_t size() const { return items_.size(); }

private:
    std::vector<GuestAddr> bases_;  // kept apart from items_ so the search touches few cache lines
    std::vector<std::shared_ptr<Reservation>> items_;
};

/// A vCPU's view of the index: reused until the index changes.
struct LookupCache {
    std::uint64_t version = UINT64_MAX;
    std::shared_ptr<const RegionSnapshot> snapshot;
};

/// The live set of reservations, keyed by base address.
///
/// Writers (serialised by the AddressSpace) change it under a short internal
/// lock and bump a version. Readers compare the version with their cache's and
/// search the cached snapshot with no lock at all; only the first lookup after
/// a change takes the lock, to pick up (and if need be build) the new snapshot,
/// which every vCPU then shares.
///
/// Thread safety: all members are safe to call concurrently.
class RegionIndex {
public:
    void insert(std::shared_ptr<Reservation> reservation);
    void erase(GuestAddr base);
    /// True when `range` overlaps a reservation.
    bool overlaps(const Range& range) const;
    /// The reservation holding `addr` in the live set (writer side).
    std::shared_ptr<Reservation> find(GuestAddr addr) const;
    /// Every reservation, in address order.
    std::vector<std::shared_ptr<Reservation>> all() const;

    /// The snapshot to search for a lookup, refreshing `cache` if the index changed.
    const RegionSnapshot& view(LookupCache& cache) const;

private:
    mutable std::mutex mutex_;
    std::map<GuestAddr, std::shared_ptr<Reservation>> live_;
    std::atomic<std::uint64_t> version_{0};
    mutable std::shared_ptr<const RegionSnapshot> snapshot_;
    mutable std::uint64_t snapshot_version_ = UINT64_MAX;
};

}  // namespace guestmem
