// SPDX-License-Identifier: BSD-2-Clause
// The guest-physical memory map of a machine, as a table and as a picture.
#pragma once

#include <string>
#include <vector>

#include "../machine.hpp"

namespace vmm {

/// One row of the map: a reservation and what backs it.
struct MapRow {
    guestmem::Range range;
    std::string name, kind, rights, backing;
    std::size_t frames = 0;
    std::size_t slots = 0;  ///< runs of contiguous frames: one hypervisor memory slot each
};

/// The machine's reservations in address order.
std::vector<MapRow> memory_map(const Machine& machine);

/// A fixed-width text table: range, size, kind, rights, backing, frames, slots.
std::string memory_map_table(const std::vector<MapRow>& rows);

/// An SVG picture of the map, high addresses on top. Heights grow with the
/// logarithm of a region's size and the gaps between regions are cut short
/// (and labelled), so a 4-byte register and 4 MiB of RAM are both visible.
std::string memory_map_svg(const std::vector<MapRow>& rows, const std::string& title);

}  // namespace vmm
