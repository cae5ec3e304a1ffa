// SPDX-License-Identifier: BSD-2-Clause
// Single guest accesses of 1, 2, 4 or 8 bytes for the VMM-side copies: one
// relaxed atomic load or store each, so a naturally aligned guest value is
// never torn (see guest_copy.cpp). Inline: a ring index or descriptor field
// copied by read_guest/write_guest is one such access.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>

namespace guestmem::guest_units {

template <class T>
inline T load_unit(const std::byte* p) {
    return __atomic_load_n(reinterpret_cast<const T*>(p), __ATOMIC_RELAXED);
}
template <class T>
inline void store_unit(std::byte* p, T v) {
    __atomic_store_n(reinterpret_cast<T*>(p), v, __ATOMIC_RELAXED);
}
/// Reads `size` (1, 2, 4 or 8) guest bytes at `from` as one access into `to`.
inline void read_unit(std::byte* to, const std::byte* from, std::size_t size) {
    switch (size) {
    case 8: {
        const auto v = load_unit<std::uint64_t>(from);
        std::memcpy(to, &v, 8);
        return;
    }
    case 4: {
        const auto v = load_unit<std::uint32_t>(from);
        std::memcpy(to, &v, 4);
        return;
    }
    case 2: {
        const auto v = load_unit<std::uint16_t>(from);
        std::memcpy(to, &v, 2);
        return;
    }
    default: {
        const auto v = load_unit<std::uint8_t>(from);
        std::memcpy(to, &v, 1);
        return;
    }
    }
}

/// Writes `size` (1, 2, 4 or 8) bytes from `from` to guest memory at `to` as one access.
inline void write_unit(std::byte* to, const std::byte* from, std::size_t size) {
    switch (size) {
    case 8: {
        std::uint64_t v;
        std::memcpy(&v, from, 8);
        store_unit(to, v);
        return;
    }
    case 4: {
        std::uint32_t v;
        std::memcpy(&v, from, 4);
        store_unit(to, v);
        return;
    }
    case 2: {
        std::uint16_t v;
        std::memcpy(&v, from, 2);
        store_unit(to, v);
        return;
    }
    default: {
        std::uint8_t v;
        std::memcpy(&v, from, 1);
        store_unit(to, v);
        return;
    }
    }
}

/// True when n bytes at `guest` are one naturally aligned unit of 1, 2, 4 or
/// 8 bytes (a ring index, a descriptor field): copied with one access, the
/// access copy_widest would make, without its loops.
inline bool one_aligned_unit(const std::byte* guest, std::size_t n) {
    return (n == 1 || n == 2 || n == 4 || n == 8) && (reinterpret_cast<std::uintptr_t>(guest) & (n - 1)) == 0;
}

}  // namespace guestmem::guest_units
