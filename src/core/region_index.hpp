// SPDX-License-Identifier: BSD-2-Clause
// Finds the reservation holding a guest address, without locks on the fault path.
#pragma once

#include <algorithm>
#include <array>
#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <vector>

#include "hot_tls.hpp"
#include "huge_page_allocator.hpp"
#include "reservation.hpp"

namespace guestmem {

/// An immutable copy of the reservations, searched in O(log n) with few cache
/// misses: a static B+-tree of the search keys (each reservation's last
/// address). An inner node is one cache line of 8 sorted keys with 9
/// children, whose keys are the largest key under each of its first 8
/// children. A leaf holds 8 keys in address order (padded with 2^64 - 1) and,
/// in the line next to them, their reservations: 128 bytes aligned to 128,
/// the pair of lines the L2 spatial prefetcher fetches together. A search
/// reads one node per level and counts the keys below the address with 8
/// independent compares (no branch on the data), so 100,000 reservations take
/// 6 dependent loads where a binary tree takes 17.
class RegionSnapshot {
public:
    explicit RegionSnapshot(const std::map<GuestAddr, std::shared_ptr<Reservation>>& live);
    /// The reservation whose range holds `addr`, or nullptr.
    Reservation* find(GuestAddr addr) const {
        Reservation* candidate = first_ending_at_or_after(addr);
        return candidate && candidate->range().base <= addr ? candidate : nullptr;
    }
    /// The first reservation (in address order) whose last address is at or
    /// after `addr`: the one holding `addr` if any, else the next one above
    /// it; nullptr when there is neither.
    Reservation* first_ending_at_or_after(GuestAddr addr) const;
    std::size_t size() const { return owners_.size(); }

private:
    static constexpr std::size_t kKeys = 8;  // a node's keys: one cache line
    static constexpr std::size_t kFanout = kKeys + 1;
    struct alignas(64) Node {
        GuestAddr keys[kKeys];
    };
    static_assert(sizeof(Node) == 64, "a node is one cache line");
    struct alignas(128) Leaf {
        Node keys;
        Reservation* reservations[kKeys];  // of keys.keys[t]; nullptr for padding
    };
    static_assert(sizeof(Leaf) == 128, "a leaf is two cache lines");
    /// An inner level of the tree: its nodes are nodes_[first, first + count),
    /// over `children` nodes of the level below (or leaves).
    struct Level {
        std::size_t first = 0;
        std::size_t count = 0;
        std::size_t children = 0;
    };
    // 8 * 9^19 keys exceed 2^64 addresses' worth of reservations.
    static constexpr std::size_t kMaxLevels = 20;

    /// How many of the node's keys are below `addr`: 0 to 8.
    static std::size_t keys_below(const Node& node, GuestAddr addr) {
        std::size_t below = 0;
        for (GuestAddr key : node.keys) below += key < addr;
        return below;
    }

    std::vector<std::shared_ptr<Reservation>> owners_;  // in address order; keeps every reservation alive
    std::vector<Node, HugePageAllocator<Node>> nodes_;  // the inner levels, root first
    std::vector<Leaf, HugePageAllocator<Leaf>> leaves_;
    std::array<Level, kMaxLevels> levels_{};  // the inner levels, root first
    std::size_t inner_levels_ = 0;
};

// Inline: the one search every lookup that misses its cache makes.
inline Reservation* RegionSnapshot::first_ending_at_or_after(GuestAddr addr) const {
    // The first key (in address order) that is >= addr: the only reservation
    // that can hold addr, since they do not overlap. In the node reached so
    // far, the number of keys below addr is the child to go on in: the
    // children before it hold only keys below addr. The last node of a level
    // may have fewer children: when addr is above them all, the clamp goes on
    // in its last child, whose keys are all below addr too.
    if (leaves_.empty()) return nullptr;
    const Node* nodes = nodes_.data();
    std::size_t j = 0;
    for (std::size_t l = 0; l < inner_levels_; ++l) {
        const Level& level = levels_[l];
        j = std::min(j * kFanout + keys_below(nodes[level.first + j], addr), level.children - 1);
    }
    const Leaf& leaf = leaves_[j];
    const std::size_t t = keys_below(leaf.keys, addr);
    return t < kKeys ? leaf.reservations[t] : nullptr;  // 8: above every key
}

/// A run of frames a VMM-side access used, and whose frames it is: a
/// reservation's frames never change while it is live (Reservation::frames),
/// so the copy is right for as long as that holds, and using it needs no
/// search and no load from the frame map. Valid only in the generation of
/// the LookupCache it was stored in, whose snapshot keeps `owner` allocated
/// (so no other reservation can take its address).
struct RememberedRun {
    Reservation* owner = nullptr;
    std::uint64_t generation = 0;  // LookupCache::generation when stored; 0: empty
    MappedRun run;
};

/// The runs a thread's VMM-side accesses (copies, Vm::find_run) used lately,
/// one per entry, picked by a hash of the page: a TLB of translations, so
/// that a VMM touching up to about a thousand reservations in turn (descriptor
/// rings, buffers, device registers) searches for each only once. 56 KiB
/// per thread that accesses guest memory from the VMM side.
struct RememberedRuns {
    static constexpr unsigned kBits = 10;
    static constexpr std::size_t kCount = std::size_t{1} << kBits;
    std::array<RememberedRun, kCount> entries{};
    /// The entry for the page holding `addr` (Fibonacci hashing: pages a
    /// power of two apart spread over the entries).
    RememberedRun& entry(GuestAddr addr) { return entries[slot(addr)]; }
    const RememberedRun& entry(GuestAddr addr) const { return entries[slot(addr)]; }
    static std::size_t slot(GuestAddr addr) { return ((addr >> kPageBits) * 0x9e3779b97f4a7c15u) >> (64 - kBits); }
};

/// A vCPU's view of the index: reused until the index changes.
///
/// Used by one thread at a time (its vCPU's). While a dispatch pins it, a
/// snapshot replaced by a nested dispatch (a handler that faults again on the
/// same vCPU) is kept alive until the outermost dispatch unpins: reservations
/// found in it stay valid without taking a reference on each lookup.
struct LookupCache {
    std::uint64_t version = UINT64_MAX;
    std::shared_ptr<const RegionSnapshot> snapshot;
    unsigned pins = 0;  // a vCPU's cache: its dispatches in progress (nested through handlers)
    std::vector<std::shared_ptr<const RegionSnapshot>> replaced;
    // The reservation the last lookup found, in `snapshot`: guests tend to
    // touch one device many times in a row, and checking it first costs no
    // cache miss.
    Reservation* last_found = nullptr;
    GuestAddr last_found_base = 0;
    std::uint64_t last_found_span = 0;  // size - 1
    // Bumped whenever `snapshot` changes (and when a thread's cache moves to
    // another index), which makes every run remembered with it stale at
    // once (see RememberedRuns) with no store to them.
    std::uint64_t generation = 1;
};

/// A thread's view of the index for VMM-side lookups (RegionIndex::thread_lookup):
/// its cache, and the runs it remembers in it.
struct ThreadLookup {
    std::uint64_t index = 0;  // the RegionIndex it belongs to
    LookupCache cache;
    RememberedRuns runs;
    ~ThreadLookup();
};

namespace region_index_detail {
// The calling thread's lookup once made: a plain pointer, read without the
// TLS wrapper call a thread_local with a destructor costs on every use.
extern thread_local constinit ThreadLookup* t_lookup GUESTMEM_HOT_TLS;
ThreadLookup& make_thread_lookup();
}  // namespace region_index_detail

/// Pins a LookupCache for the lifetime of a dispatch (see LookupCache).
class SnapshotPin {
public:
    explicit SnapshotPin(LookupCache& cache) : cache_(cache) { ++cache_.pins; }
    ~SnapshotPin() {
        if (--cache_.pins == 0 && !cache_.replaced.empty()) cache_.replaced.clear();
    }
    SnapshotPin(const SnapshotPin&) = delete;
    SnapshotPin& operator=(const SnapshotPin&) = delete;

private:
    LookupCache& cache_;
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

    RegionIndex();

    /// The snapshot to search for a lookup, refreshing `cache` if the index changed.
    const RegionSnapshot& view(LookupCache& cache) const {
        if (cache.version == version_.load(std::memory_order_acquire) && cache.snapshot) return *cache.snapshot;
        return refresh(cache);
    }
    /// The calling thread's lookup for VMM-side accesses (guest memory
    /// copies, Vm::find_run), which have no vCPU: one per thread, taken over
    /// by whichever index the thread last looked up in. The snapshot its
    /// cache keeps may name freed reservations, which are then inert
    /// (Reservation::release). Not for dispatch, whose nested calls need the
    /// vCPU's pinned cache.
    [[gnu::always_inline]] ThreadLookup& thread_lookup() const {
        ThreadLookup* mine = region_index_detail::t_lookup;
        if (!mine) mine = &region_index_detail::make_thread_lookup();
        if (mine->index != id_) {
            // A new generation: the runs remembered for the other index
            // (whose reservations the reset may free) are stale.
            const std::uint64_t generation = mine->cache.generation + 1;
            mine->cache = LookupCache{};
            mine->cache.generation = generation;
            mine->index = id_;
        }
        return *mine;
    }
    /// The reservation holding `addr` in the snapshot view(cache) returns, or
    /// nullptr; remembers it in `cache` to answer a repeat without searching.
    Reservation* lookup(LookupCache& cache, GuestAddr addr) const {
        // A repeat in an unchanged index, the common case on a fault path:
        // inline, no search and no call. last_found is only ever set in the
        // snapshot of cache.version, and cleared when that changes.
        if (cache.last_found && addr - cache.last_found_base <= cache.last_found_span &&
            cache.version == version_.load(std::memory_order_acquire)) {
            return cache.last_found;
        }
        return search(cache, addr);
    }
    /// The reservation the last lookup through `cache` found, if it holds all
    /// of [addr, addr + size) (size 1 to 8); else nullptr. The dispatch fast
    /// path: no search, no write, and no look at the index's version. That
    /// is safe for a caller that enters the reservation before using it: a
    /// reservation's range never changes, so while it is live it is the one
    /// owner of its addresses, and once retired Reservation::try_enter
    /// refuses it (the caller then looks up through lookup(), which sees the
    /// new version). `cache` keeps it allocated (see LookupCache).
    static Reservation* repeat(const LookupCache& cache, GuestAddr addr, std::uint8_t size) {
        const std::uint64_t offset = addr - cache.last_found_base;
        if (offset <= cache.last_found_span && cache.last_found_span - offset >= size - 1u) return cache.last_found;
        return nullptr;
    }
    /// For VMM-side accesses (no vCPU), after their remembered runs missed:
    /// the reservation holding `addr`, searched for in the snapshot of the
    /// calling thread's cache (thread_lookup()) and entered with `mine` (the
    /// caller leaves it), or nullptr. It is not remembered as the last one
    /// found (lookup(), repeat()): the remembered runs answer repeats.
    Reservation* enter_holder(LookupCache& cache, GuestAddr addr, ThreadInside& mine) const {
        Reservation* found = view(cache).find(addr);
        return found && found->try_enter(mine) ? found : nullptr;
    }
    /// The run `mine` remembers for `addr` (see RememberedRun), or nullptr.
    /// Its owner is the reservation holding `addr` while it is live: a
    /// caller enters it (or checks Reservation::live) before using the run.
    static const RememberedRun* remembered(const ThreadLookup& mine, GuestAddr addr) {
        const RememberedRun& entry = mine.runs.entry(addr);
        return entry.generation == mine.cache.generation && addr - entry.run.gpa < entry.run.size ? &entry : nullptr;
    }
    /// The run of `holder`'s frames that holds `addr` (holder was found
    /// through `mine.cache` and is entered), or nullptr; remembered in `mine`.
    static const MappedRun* run_of(ThreadLookup& mine, Reservation& holder, GuestAddr addr) {
        const FrameMap* frames = holder.frames();
        if (!frames) return nullptr;
        RememberedRun& entry = mine.runs.entry(addr);
        // Each branch copies its run straight into the entry: a run built
        // in a temporary and copied from there would be read back in wider
        // loads than it was stored with, which stalls store forwarding.
        if (std::optional<MappedRun> whole = holder.whole_run()) {
            entry.run = *whole;  // it holds addr: holder does
        } else if (const MappedRun* found = frames->find(addr)) {
            entry.run = *found;
        } else {
            return nullptr;
        }
        entry.owner = &holder;
        entry.generation = mine.cache.generation;
        return &entry.run;
    }
    /// The base of the first reservation above `addr` in the snapshot
    /// view(cache) returns (for an `addr` no reservation holds), if any.
    std::optional<GuestAddr> next_base_above(LookupCache& cache, GuestAddr addr) const;

private:
    Reservation* search(LookupCache& cache, GuestAddr addr) const;
    const RegionSnapshot& refresh(LookupCache& cache) const;

    mutable std::mutex mutex_;  // a leaf: after AddressSpace::change_mutex_, never before another lock
    std::map<GuestAddr, std::shared_ptr<Reservation>> live_;
    std::atomic<std::uint64_t> version_{0};
    mutable std::shared_ptr<const RegionSnapshot> snapshot_;
    mutable std::uint64_t snapshot_version_ = UINT64_MAX;
    const std::uint64_t id_;  // never reused, so a thread cache never mistakes another index for this one
};

}  // namespace guestmem
