// SPDX-License-Identifier: BSD-2-Clause
// Reads a guest image: a flat binary or an ELF executable (x86-64 or AArch64).
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "guestmem/arch.hpp"
#include "guestmem/error.hpp"
#include "guestmem/types.hpp"

namespace vmm {

/// A piece of the image to load: file_size bytes of the file from
/// file_offset, at addr, followed by zeros up to mem_size.
struct ImageSegment {
    guestmem::GuestAddr addr = 0;
    std::uint64_t file_offset = 0;
    std::uint64_t file_size = 0;
    std::uint64_t mem_size = 0;  ///< >= file_size
};

struct GuestImage {
    /// The image file as read. Segments refer into it rather than holding
    /// copies: what an image costs is its file size, whatever its headers claim.
    std::vector<std::byte> file;
    std::vector<ImageSegment> segments;
    guestmem::GuestAddr entry = 0;
    bool elf = false;

    /// The bytes a segment takes from the file.
    std::span<const std::byte> bytes(const ImageSegment& segment) const {
        return std::span(file).subspan(segment.file_offset, segment.file_size);
    }
};

/// Guest RAM an image must fit in: [base, base + size).
struct RamWindow {
    guestmem::GuestAddr base = 0;
    std::uint64_t size = 0;
};

/// An ELF64 executable for `arch` is loaded by its PT_LOAD segments (at their
/// physical addresses) and entered at e_entry; anything else is a flat binary
/// loaded and entered at `flat_load_addr`. Every segment is checked before
/// anything is allocated for it: it must lie within the file (its file part)
/// and within `ram` (its memory part), not wrap around the address space, not
/// overlap another segment, and not hold more file bytes than memory bytes.
/// Errors: Errc::invalid_argument with the path and the reason (an ELF file
/// for another machine, a malformed or misplaced segment, an image that does
/// not fit in RAM), or those of guestmem::read_image_file.
guestmem::Result<GuestImage> read_guest_image(const std::string& path, guestmem::GuestAddr flat_load_addr,
                                              guestmem::Arch arch, RamWindow ram);

}  // namespace vmm
