// SPDX-License-Identifier: BSD-2-Clause
// Baselines for fault dispatch, written from scratch without the library,
// both calling a handler through a plain function pointer with a cookie, as
// libsel4vm's memory fault callbacks are called:
//  - RbTreeDispatch: what libsel4vm does for a fault on a reservation: a
//    red-black tree (std::map) keyed by base address, then the callback;
//  - LinearAnonScan: libsel4vm's scheme for anonymous sub-reservations, a list
//    scanned linearly for the one holding the address.
// Neither protects against a concurrent free (libsel4vm does not).
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <vector>

namespace bench {

/// A fault callback: returns the value a read yields.
using Callback = std::uint64_t (*)(void* cookie, std::uint64_t addr, std::size_t length);

struct Region {
    std::uint64_t base;
    std::uint64_t size;
    Callback callback;
    void* cookie;
};

class RbTreeDispatch {
public:
    void add(std::uint64_t base, std::uint64_t size, Callback cb, void* cookie) {
        map_.emplace(base, Region{base, size, cb, cookie});
    }
    /// Calls the callback of the region holding addr; returns its value (0 if none).
    std::uint64_t dispatch(std::uint64_t addr, std::size_t length) const {
        auto it = map_.upper_bound(addr);
        if (it == map_.begin()) return 0;
        --it;
        const Region& r = it->second;
        if (addr - r.base >= r.size) return 0;
        return r.callback(r.cookie, addr, length);
    }

private:
    std::map<std::uint64_t, Region> map_;
};

class LinearAnonScan {
public:
    void add(std::uint64_t base, std::uint64_t size, Callback cb, void* cookie) {
        list_.push_back(Region{base, size, cb, cookie});
    }
    std::uint64_t dispatch(std::uint64_t addr, std::size_t length) const {
        for (const Region& r : list_) {
            if (addr >= r.base && addr < r.base + r.size) return r.callback(r.cookie, addr, length);
        }
        return 0;
    }

private:
    std::vector<Region> list_;
};

}  // namespace bench
