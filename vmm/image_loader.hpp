// SPDX-License-Identifier: BSD-2-Clause
// Reads a guest image: a flat binary or an ELF executable (x86-64 or AArch64).
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "guestmem/arch.hpp"
#include "guestmem/error.hpp"
#include "guestmem/types.hpp"

namespace vmm {

struct ImageSegment {
    guestmem::GuestAddr addr = 0;
    std::vector<std::byte> bytes;  ///< zero-filled up to the segment's memory size
};

struct GuestImage {
    std::vector<ImageSegment> segments;
    guestmem::GuestAddr entry = 0;
    bool elf = false;
};

/// An ELF64 executable for `arch` is loaded by its PT_LOAD segments (at their
/// physical addresses) and entered at e_entry (an ELF file for another
/// machine is Errc::invalid_argument); anything else is a flat binary loaded
/// and entered at `flat_load_addr`.
guestmem::Result<GuestImage> read_guest_image(const std::string& path, guestmem::GuestAddr flat_load_addr,
                                              guestmem::Arch arch);

}  // namespace vmm
