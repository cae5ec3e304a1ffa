#include "region_index.hpp"

#include <algorithm>
#include <iterator>

namespace guestmem {

RegionSnapshot::RegionSnapshot(const std::map<GuestAddr, std::shared_ptr<Reservation>>& live) {
    bases_.reserve(live.size());
    items_.reserve(live.size());
    for (const auto& [base, reservation] : live) {
        bases_.push_back(base);
        items_.push_back(reservation);
    }
}

Reservation* RegionSnapshot::find(GuestAddr addr) const {
    auto it = std::upper_bound(bases_.begin(), bases_.end(), addr);
    if (it == bases_.begin()) return nullptr;
    Reservation* candidate = items_[static_cast<std::size_t>(std::prev(it) - bases_.begin())].get();
    return candidate->range().contains(addr) ? candidate : nullptr;
}

std::shared_ptr<Reservation> RegionSnapshot::share(const Reservation* found) const {
    auto it = std::upper_bound(bases_.begin(), bases_.end(), found->range().base);
    return items_[static_cast<std::size_t>(std::prev(it) - bases_.begin())];
}

void RegionIndex::insert(std::shared_ptr<Reservation> reservation) {
    std::lock_guard lock(mutex_);
    const GuestAddr base = reservation->range().base;
    live_.emplace(base, std::move(reservation));
    version_.fetch_add(1, std::memory_order_release);
}

void RegionIndex::erase(GuestAddr base) {
    std::lock_guard lock(mutex_);
    live_.erase(base);
    version_.fetch_add(1, std::memory_order_release);
}

bool RegionIndex::overlaps(const Range& range) const {
    std::lock_guard lock(mutex_);
    auto next = live_.lower_bound(range.base);
    if (next != live_.end() && next->second->range().overlaps(range)) return true;
    if (next == live_.begin()) return false;
    return std::prev(next)->second->range().overlaps(range);
}

std::shared_ptr<Reservation> RegionIndex::find(GuestAddr addr) const {
    std::lock_guard lock(mutex_);
    auto it = live_.upper_bound(addr);
    if (it == live_.begin()) return nullptr;
    --it;
    return it->second->range().contains(addr) ? it->second : nullptr;
}

std::vector<std::shared_ptr<Reservation>> RegionIndex::all() const {
    std::lock_guard lock(mutex_);
    std::vector<std::shared_ptr<Reservation>> out;
    out.reserve(live_.size());
    for (const auto& entry : live_) out.push_back(entry.second);
    return out;
}

const RegionSnapshot& RegionIndex::view(LookupCache& cache) const {
    const std::uint64_t current = version_.load(std::memory_order_acquire);
    if (cache.version != current || !cache.snapshot) {
        std::lock_guard lock(mutex_);
        const std::uint64_t latest = version_.load(std::memory_order_relaxed);
        if (snapshot_version_ != latest || !snapshot_) {
            snapshot_ = std::make_shared<const RegionSnapshot>(live_);
            snapshot_version_ = latest;
        }
        cache.version = snapshot_version_;
        cache.snapshot = snapshot_;
    }
    return *cache.snapshot;
}

}  // namespace guestmem
