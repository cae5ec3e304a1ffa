// Baselines for fault dispatch, written from scratch without the library:
//  - MapLookup: a balanced-tree map (std::map) keyed by base address;
//  - LinearAnonScan: libsel4vm's scheme for anonymous sub-reservations, a list
//    scanned linearly for the one holding the address.
// Both call a handler through std::function, as the library does.
#pragma once

#include <cstdint>
#include <functional>
#include <iterator>
#include <map>
#include <vector>

namespace bench {

using Handler = std::function<std::uint64_t(std::uint64_t addr)>;

struct Region {
    std::uint64_t base;
    std::uint64_t size;
    Handler handler;
};

class MapLookup {
public:
    void add(std::uint64_t base, std::uint64_t size, Handler h) { map_.emplace(base, Region{base, size, std::move(h)}); }
    /// Calls the handler of the region holding addr; returns its value (0 if none).
    std::uint64_t dispatch(std::uint64_t addr) const {
        auto it = map_.upper_bound(addr);
        if (it == map_.begin()) return 0;
        --it;
        const Region& r = it->second;
        if (addr - r.base >= r.size) return 0;
        return r.handler(addr);
    }

private:
    std::map<std::uint64_t, Region> map_;
};

class LinearAnonScan {
public:
    void add(std::uint64_t base, std::uint64_t size, Handler h) { list_.push_back(Region{base, size, std::move(h)}); }
    std::uint64_t dispatch(std::uint64_t addr) const {
        for (const Region& r : list_) {
            if (addr >= r.base && addr < r.base + r.size) return r.handler(addr);
        }
        return 0;
    }

private:
    std::vector<Region> list_;
};

}  // namespace bench
