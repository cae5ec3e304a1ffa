// SPDX-License-Identifier: BSD-2-Clause
#include "region_index.hpp"

#include <bit>
#include <cstdint>

namespace guestmem {

namespace {
constexpr std::size_t kNodesPerLine = 4;
constexpr std::size_t kLine = 64;
}  // namespace

RegionSnapshot::RegionSnapshot(const std::map<GuestAddr, std::shared_ptr<Reservation>>& live) {
    owners_.reserve(live.size());
    for (const auto& entry : live) owners_.push_back(entry.second);
    // A complete tree: every search takes the same number of steps, so the
    // loop's exit is predicted (a tree of 10 ends after 3 or 4 steps, by address).
    nodes_ = live.empty() ? 0 : std::bit_ceil(live.size() + 1) - 1;
    // Room to start node 0 on a cache line boundary (the vector's memory is
    // 16-byte aligned), then nodes 0..nodes_; node 0 is never read.
    storage_.resize(nodes_ + kNodesPerLine);
    const auto misalignment = reinterpret_cast<std::uintptr_t>(storage_.data()) % kLine;
    skip_ = misalignment == 0 ? 0 : (kLine - misalignment) / sizeof(Node);
    std::size_t next_sorted = 0;
    place(next_sorted, 1);
}

// An in-order walk of the implicit tree visits the nodes in address order.
// The nodes past the reservations come last in address order, ending at
// the top of the address space and holding nothing: a search that finds one
// found no reservation (a reservation ending at 2^64 comes first, as the
// first node in order among equal keys wins).
void RegionSnapshot::place(std::size_t& next_sorted, std::size_t k) {
    if (k > nodes_) return;
    place(next_sorted, 2 * k);
    if (next_sorted < owners_.size()) {
        Reservation* reservation = owners_[next_sorted].get();
        nodes()[k] = Node{reservation->range().last(), reservation};
    } else {
        nodes()[k] = Node{UINT64_MAX, nullptr};
    }
    ++next_sorted;
    place(next_sorted, 2 * k + 1);
}

Reservation* RegionSnapshot::first_ending_at_or_after(GuestAddr addr) const {
    // The first node (in address order) whose last address is >= addr: the
    // only reservation that can hold addr, since they do not overlap.
    const Node* tree = nodes();
    const std::size_t n = nodes_;
    std::size_t k = 1;
    while (k <= n) {
        // The line of k's four grandchildren (an address past the end is harmless).
        // NOLINTNEXTLINE(performance-no-int-to-ptr): integers, as past the array pointer arithmetic is undefined
        __builtin_prefetch(reinterpret_cast<const void*>(reinterpret_cast<std::uintptr_t>(tree) + kLine * k));
        k = 2 * k + (tree[k].last < addr);
    }
    // k went right after the node we want and left ever since: drop those
    // trailing right turns and the last left one.
    k >>= std::countr_one(k) + 1;
    return k == 0 ? nullptr : tree[k].reservation;
}

namespace {
std::atomic<std::uint64_t> g_next_index_id{1};
}  // namespace

RegionIndex::RegionIndex() : id_(g_next_index_id.fetch_add(1, std::memory_order_relaxed)) {}

namespace region_index_detail {

thread_local constinit ThreadCache* t_cache GUESTMEM_HOT_TLS = nullptr;

ThreadCache::~ThreadCache() {
    if (t_cache == this) t_cache = nullptr;
}

ThreadCache& make_thread_cache() {
    thread_local ThreadCache mine;
    t_cache = &mine;
    return mine;
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
