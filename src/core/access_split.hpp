// SPDX-License-Identifier: BSD-2-Clause
// Splitting a guest access into the pieces fault handlers see.
#pragma once

#include <cstdint>

#include "guestmem/types.hpp"

namespace guestmem {

/// The size of the first piece of a part of an access: `part_size` bytes at
/// `addr` (1 to 8). Handlers only ever see accesses of 1, 2, 4 or 8 bytes,
/// so a part of 3, 5, 6 or 7 bytes (a fragment KVM makes of an access that
/// crosses a page, or the share of an access one reservation holds) is
/// performed as the fewest naturally aligned pieces of 4, 2 and 1 bytes, in
/// address order; a part of 1, 2, 4 or 8 bytes is one piece, aligned or not,
/// as the guest made it.
constexpr std::uint8_t first_piece_size(GuestAddr addr, std::uint64_t part_size) {
    if (part_size == 1 || part_size == 2 || part_size == 4 || part_size == 8) {
        return static_cast<std::uint8_t>(part_size);
    }
    for (std::uint8_t size : {std::uint8_t{4}, std::uint8_t{2}}) {
        if (size <= part_size && (addr & (size - 1)) == 0) return size;
    }
    return 1;
}

/// The bytes of an access from `addr` that one owner holds: up to the
/// owner's last address `owner_last` (inclusive), at most `left` bytes.
constexpr std::uint64_t bytes_held(GuestAddr addr, GuestAddr owner_last, std::uint64_t left) {
    return owner_last - addr < left ? owner_last - addr + 1 : left;
}

}  // namespace guestmem
