// SPDX-License-Identifier: BSD-2-Clause
/// @file
/// Guest images: a flat binary or an ELF executable (x86-64 or AArch64), read
/// and checked (read_guest_image), then written to guest RAM (load_guest_image).
#pragma once

#include <guestmem/export.h>

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "guestmem/arch.hpp"
#include "guestmem/error.hpp"
#include "guestmem/types.hpp"

namespace guestmem {
class Vm;

/// A piece of the image to load: file_size bytes of the file from
/// file_offset, at addr, followed by zeros up to mem_size.
struct ImageSegment {
    GuestAddr addr = 0;             ///< guest-physical address of its first byte
    std::uint64_t file_offset = 0;  ///< where its bytes start in the file
    std::uint64_t file_size = 0;    ///< bytes taken from the file
    std::uint64_t mem_size = 0;     ///< bytes in guest memory, >= file_size
};

/// A guest image read and checked by read_guest_image. Not thread safe;
/// copyable and movable.
struct GuestImage {
    /// The image file as read. Segments refer into it rather than holding
    /// copies: what an image costs is its file size, whatever its headers claim.
    std::vector<std::byte> file;
    std::vector<ImageSegment> segments;  ///< what to load, in file order, not overlapping
    GuestAddr entry = 0;                 ///< the first instruction (ELF e_entry, or the flat load address)
    bool elf = false;                    ///< true for an ELF executable, false for a flat binary

    /// The bytes a segment takes from the file.
    std::span<const std::byte> bytes(const ImageSegment& segment) const {
        return std::span(file).subspan(segment.file_offset, segment.file_size);
    }
};

/// Guest RAM an image must fit in: [base, base + size).
struct RamWindow {
    GuestAddr base = 0;      ///< first address
    std::uint64_t size = 0;  ///< bytes
};

/// An ELF64 executable for `arch` is loaded by its PT_LOAD segments (at their
/// physical addresses) and entered at e_entry; anything else is a flat binary
/// loaded and entered at `flat_load_addr`. Every segment is checked before
/// anything is allocated for it: it must lie within the file (its file part)
/// and within `ram` (its memory part), not wrap around the address space, not
/// overlap another segment, and not hold more file bytes than memory bytes.
/// Errors: Errc::invalid_argument with the path and the reason (an ELF file
/// for another machine, a malformed or misplaced segment, an image that does
/// not fit in RAM), or those of read_image_file.
GUESTMEM_API Result<GuestImage> read_guest_image(const std::string& path, GuestAddr flat_load_addr, Arch arch,
                                                 RamWindow ram);

/// Writes the image to guest memory with the VMM's rights (read-only frames
/// too, as a loader may): each segment's file bytes, then zeros up to its
/// memory size. Errors: those of write_guest (a segment outside memory the
/// VMM can write); guest memory may then hold part of the image. Thread
/// safe, as write_guest.
GUESTMEM_API Result<void> load_guest_image(Vm& vm, const GuestImage& image);

}  // namespace guestmem
