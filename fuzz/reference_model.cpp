// SPDX-License-Identifier: BSD-2-Clause
#include "reference_model.hpp"

#include <algorithm>

namespace fuzzmodel {

namespace {

std::uint64_t mask_of(unsigned size) { return size >= 8 ? ~std::uint64_t{0} : (std::uint64_t{1} << (8 * size)) - 1; }

// By last addresses: a range may end exactly at 2^64.
bool overlap(Addr a, std::uint64_t asize, Addr b, std::uint64_t bsize) {
    return a <= b + (bsize - 1) && b <= a + (asize - 1);
}

// The piece of a part the library hands to a handler: the part itself when it
// is 1, 2, 4 or 8 bytes, else its first naturally aligned 4-, 2- or 1-byte piece.
unsigned piece_size(Addr addr, std::uint64_t part) {
    if (part == 1 || part == 2 || part == 4 || part == 8) return static_cast<unsigned>(part);
    if (part >= 4 && addr % 4 == 0) return 4;
    if (part >= 2 && addr % 2 == 0) return 2;
    return 1;
}

}  // namespace

bool Model::overlaps_anything(Addr base, std::uint64_t size) const {
    for (const auto& [id, r] : reservations) {
        if (overlap(base, size, r.base, r.size)) return true;
    }
    for (const auto& p : pools) {
        if (overlap(base, size, p.base, p.size)) return true;
    }
    return false;
}

std::optional<Addr> Model::anon_fit(std::uint64_t rounded, std::uint64_t align) const {
    std::vector<Pool> sorted = pools;
    for (std::size_t i = 0; i < sorted.size(); ++i) {
        for (std::size_t j = i + 1; j < sorted.size(); ++j) {
            if (sorted[j].base < sorted[i].base) std::swap(sorted[i], sorted[j]);
        }
    }
    for (const auto& p : sorted) {
        for (Addr a = (p.base + align - 1) / align * align; a + rounded <= p.base + p.size; a += align) {
            bool taken = false;
            for (const auto& [id, r] : reservations) {
                if (r.anonymous && overlap(a, rounded, r.base, r.size)) taken = true;
            }
            if (!taken) return a;
        }
    }
    return std::nullopt;
}

std::optional<std::vector<Mapping>> Model::plan_mapping(const Reservation& r,
                                                        const std::vector<FrameRequest>& requests) const {
    std::vector<Mapping> plan;
    Addr addr = r.base;
    std::size_t next = 0;
    while (addr - r.base < r.size) {
        if (next >= requests.size()) return std::nullopt;  // the iterator ran dry: a null capability
        const FrameRequest& f = requests[next++];
        if (f.size_bits != 12 && f.size_bits != 21 && f.size_bits != 30) return std::nullopt;
        auto cap = caps.find(f.cap);
        if (cap == caps.end()) return std::nullopt;
        if (frames[static_cast<std::size_t>(cap->second.frame)].size_bits != f.size_bits) return std::nullopt;
        const std::uint64_t bytes = std::uint64_t{1} << f.size_bits;
        if (f.addr != addr || addr % bytes != 0 || bytes > r.size - (addr - r.base)) return std::nullopt;
        const unsigned rights = f.rights & cap->second.rights;
        if (rights & 2u) plan.push_back(Mapping{addr, bytes, cap->second.frame, (rights & 1u) != 0});
        addr += bytes;
    }
    return plan;
}

Reservation* Model::holder(Addr addr) {
    for (auto& [id, r] : reservations) {
        if (addr >= r.base && addr - r.base < r.size) return &r;
    }
    return nullptr;
}

std::optional<Addr> Model::next_base_above(Addr addr) const {
    std::optional<Addr> next;
    for (const auto& [id, r] : reservations) {
        if (r.base > addr && (!next || r.base < *next)) next = r.base;
    }
    return next;
}

bool Model::memory_access(const Reservation& r, Addr addr, unsigned size, bool is_write, std::uint64_t& value) {
    std::vector<std::pair<const Mapping*, Addr>> where;
    for (unsigned i = 0; i < size; ++i) {
        const Mapping* found = nullptr;
        for (const auto& m : r.mappings) {
            // By offset: a mapping may end exactly at 2^64 (m.base + m.size == 0).
            if (addr + i - m.base < m.size) found = &m;
        }
        if (!found || (is_write && !found->writable)) return false;
        where.emplace_back(found, addr + i - found->base);
    }
    if (is_write) {
        for (unsigned i = 0; i < size; ++i) {
            frames[static_cast<std::size_t>(where[i].first->frame)].bytes[where[i].second] =
                static_cast<std::uint8_t>(value >> (8 * i));
        }
        return true;
    }
    value = 0;
    for (unsigned i = 0; i < size; ++i) {
        const auto& bytes = frames[static_cast<std::size_t>(where[i].first->frame)].bytes;
        auto it = bytes.find(where[i].second);
        value |= std::uint64_t{it == bytes.end() ? std::uint8_t{0} : it->second} << (8 * i);
    }
    return true;
}

AccessResult Model::apply(Policy policy, std::uint64_t handled_value, unsigned size, bool is_write) {
    switch (policy) {
    case Policy::handled: return {true, is_write ? 0 : handled_value & mask_of(size)};
    case Policy::ignore: return {true, 0};
    default: return {false, 0};  // error, and restart without progress
    }
}

AccessResult Model::access(Addr addr, unsigned size, bool is_write, std::uint64_t value) {
    if (size - 1 > UINT64_MAX - addr) return {false, 0};  // wraps past the top: an invalid access
    if (is_write) value &= mask_of(size);
    // One piece per owner, in ascending address order; a failed piece ends
    // the access (earlier pieces stay done); a read is assembled little-endian.
    std::uint64_t read = 0;
    for (unsigned done = 0; done < size;) {
        const Addr at = addr + done;
        Reservation* r = holder(at);
        std::uint64_t part = size - done;
        if (r) {
            part = std::min<std::uint64_t>(part, r->size - (at - r->base));
        } else if (auto next = next_base_above(at)) {
            part = std::min<std::uint64_t>(part, *next - at);
        }
        const unsigned piece = piece_size(at, part);
        const AccessResult one = access_piece(r, at, piece, is_write, (value >> (8 * done)) & mask_of(piece));
        if (!one.ok) return {false, 0};
        read |= one.value << (8 * done);
        done += piece;
    }
    return {true, is_write ? 0 : read};
}

AccessResult Model::access_piece(Reservation* r, Addr addr, unsigned size, bool is_write, std::uint64_t value) {
    if (r && r->deferred) {
        r->deferred = false;
        auto plan = plan_mapping(*r, r->pending);
        r->pending.clear();
        if (!plan) return {false, 0};
        r->mappings = *plan;
        r->mapped = true;
    }
    if (r && r->mapped && memory_access(*r, addr, size, is_write, value)) return {true, is_write ? 0 : value};
    Policy policy = r ? r->policy : Policy::unhandled;
    std::uint64_t handled_value = r ? r->value : 0;
    if (policy == Policy::unhandled) {
        if (!unhandled_policy || *unhandled_policy == Policy::unhandled) return {false, 0};
        policy = *unhandled_policy;
        handled_value = unhandled_value;
    }
    return apply(policy, handled_value, size, is_write);
}

}  // namespace fuzzmodel
