// SPDX-License-Identifier: BSD-2-Clause
#include "region_index.hpp"

#include <algorithm>
#include <cstdint>
#include <memory>

namespace guestmem {

RegionSnapshot::RegionSnapshot(const std::map<GuestAddr, std::shared_ptr<Reservation>>& live) {
    owners_.reserve(live.size());
    for (const auto& entry : live) owners_.push_back(entry.second);
    if (owners_.empty()) return;

    leaves_.resize((owners_.size() + kKeys - 1) / kKeys);
    for (std::size_t i = 0; i < leaves_.size() * kKeys; ++i) {
        Leaf& leaf = leaves_[i / kKeys];
        Reservation* reservation = i < owners_.size() ? owners_[i].get() : nullptr;
        leaf.keys.keys[i % kKeys] = reservation ? reservation->range().last() : UINT64_MAX;
        leaf.reservations[i % kKeys] = reservation;
    }
    // The inner levels, bottom up, until one node is left. `largest` holds
    // the largest key under each node of the level just built.
    std::vector<GuestAddr> largest;
    for (std::size_t b = 0; b < leaves_.size(); ++b) {
        largest.push_back(owners_[std::min(b * kKeys + kKeys, owners_.size()) - 1]->range().last());
    }
    std::vector<std::vector<Node>> levels;
    std::size_t below = leaves_.size();
    while (below > 1) {
        const std::size_t count = (below + kFanout - 1) / kFanout;
        std::vector<Node> level(count);
        std::vector<GuestAddr> level_largest;
        for (std::size_t j = 0; j < count; ++j) {
            for (std::size_t t = 0; t < kKeys; ++t) {
                const std::size_t child = j * kFanout + t;
                level[j].keys[t] = child < below ? largest[child] : UINT64_MAX;  // no child: never below an address
            }
            level_largest.push_back(largest[std::min(j * kFanout + kFanout, below) - 1]);
        }
        levels.push_back(std::move(level));
        largest = std::move(level_largest);
        below = count;
    }
    // levels[0] lies just above the leaves, levels.back() is the root. Stored
    // root first: the levels every search reads share the first lines.
    for (std::size_t k = levels.size(); k-- > 0;) {
        const std::size_t children = k == 0 ? leaves_.size() : levels[k - 1].size();
        levels_[inner_levels_++] = Level{nodes_.size(), levels[k].size(), children};
        nodes_.insert(nodes_.end(), levels[k].begin(), levels[k].end());
    }
}

namespace {
std::atomic<std::uint64_t> g_next_index_id{1};
}  // namespace

RegionIndex::RegionIndex() : id_(g_next_index_id.fetch_add(1, std::memory_order_relaxed)) {}

ThreadLookup::~ThreadLookup() {
    if (region_index_detail::t_lookup == this) region_index_detail::t_lookup = nullptr;
}

namespace region_index_detail {

thread_local constinit ThreadLookup* t_lookup GUESTMEM_HOT_TLS = nullptr;

ThreadLookup& make_thread_lookup() {
    // On the heap: its 56 KiB are for threads that access guest memory from
    // the VMM side, not in the static TLS every thread of the process gets
    // (and a library loaded by dlopen has only a little of).
    thread_local std::unique_ptr<ThreadLookup> mine;
    if (!mine) mine = std::make_unique<ThreadLookup>();
    t_lookup = mine.get();
    return *mine;
}

}  // namespace region_index_detail

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

// The first lookup after a change: the lock, and the new snapshot (built by
// the first vCPU that needs it, then shared).
const RegionSnapshot& RegionIndex::refresh(LookupCache& cache) const {
    {
        std::lock_guard lock(mutex_);
        const std::uint64_t latest = version_.load(std::memory_order_relaxed);
        if (snapshot_version_ != latest || !snapshot_) {
            snapshot_ = std::make_shared<const RegionSnapshot>(live_);
            snapshot_version_ = latest;
        }
        // A pinned cache's reservations are in use by a dispatch further up
        // this vCPU's stack: keep the snapshot holding them.
        if (cache.pins > 0 && cache.snapshot) cache.replaced.push_back(std::move(cache.snapshot));
        cache.version = snapshot_version_;
        cache.snapshot = snapshot_;
        cache.last_found = nullptr;
        ++cache.generation;
    }
    return *cache.snapshot;
}

// lookup() found no repeat: search (after refreshing the cache if the index
// changed, which also forgets the last reservation found).
Reservation* RegionIndex::search(LookupCache& cache, GuestAddr addr) const {
    Reservation* found = view(cache).find(addr);
    if (found) {
        cache.last_found = found;
        cache.last_found_base = found->range().base;
        cache.last_found_span = found->range().size - 1;
    }
    return found;
}

std::optional<GuestAddr> RegionIndex::next_base_above(LookupCache& cache, GuestAddr addr) const {
    const Reservation* next = view(cache).first_ending_at_or_after(addr);
    if (!next) return std::nullopt;
    return next->range().base;
}

}  // namespace guestmem
