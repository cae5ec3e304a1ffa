// Reads a guest image: a flat binary or an x86-64 ELF executable.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

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

/// An ELF64 x86-64 executable is loaded by its PT_LOAD segments (at their
/// physical addresses) and entered at e_entry; anything else is a flat binary
/// loaded and entered at `flat_load_addr`.
guestmem::Result<GuestImage> read_guest_image(const std::string& path, guestmem::GuestAddr flat_load_addr);

}  // namespace vmm
