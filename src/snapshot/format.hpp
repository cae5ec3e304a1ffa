// SPDX-License-Identifier: BSD-2-Clause
// The snapshot file format, version 2 (version 1 files, which have no
// application section, are still read), and the byte-level helpers that
// read and write it.
//
// Every integer is little-endian; there is no padding. A file is:
//
//   header   at offset 0, header_bytes long:
//     u8[8]  magic "GMSNAP\0\0"
//     u32    format_version (2; 1 without the application section)
//     u32    header_bytes (the header's length, parent name included)
//     u64    id (random, never 0)
//     u64    parent_id (0 for a full snapshot)
//     u32    flags (bit 0: diff)
//     u32    arch (guestmem::Arch: 0 x86-64, 1 AArch64)
//     u64    layout_offset, layout_bytes
//     u64    vcpu_offset, vcpu_bytes
//     u64    data_offset, data_bytes
//     u64    stored_pages, omitted_pages (zero pages of a full snapshot,
//            unchanged pages of a diff)
//     u32    checksum: CRC32C (Castagnoli) of the header with this field
//            zero, then the layout section, then the vCPU section
//     u16    parent name length, then the name (a file name in the same
//            folder, no '/'); empty for a full snapshot
//     u64    application_offset, application_bytes (version 2 and later)
//   layout   at layout_offset:
//     u32 pools,       then per pool {u64 base, u64 size}
//     u32 allocated,   then per range {u64 base, u64 size}: allocated RAM
//     u32 reservations, then per reservation, in address order:
//       u64 base, u64 size, u8 kind (snapshot::ReservationKind),
//       u8 flags (bit 0 anonymous, bit 1 mapped, bit 2 doorbell has a match),
//       u64 doorbell match, u32 mappings, then per mapping, in address order:
//         u64 gpa, u8 rights (guestmem::Rights), u64 frame index
//     u64 frames, then per frame:
//       u8 size bits (12, 21, 30), u8 flags (bit 0: whole: pages this file
//       does not store are zero, not the parent's), u64 parent frame index
//       (the same frame in the parent file; ~0 for none, which a diff's
//       frame then must be whole), u32 pages, then per page, ascending:
//         u32 page index in the frame, u8 flags (bit 0: zero, no data),
//         u32 CRC32C of the 4 KiB, u64 offset in the data section
//   vCPUs    at vcpu_offset:
//     u32 count, then per vCPU: u8 saved (0: the backend has no register
//     state), then if saved: u8 arch, the registers and the system state
//     field by field (x86: 18 u64 registers rax..r15, rip, rflags; u64 cr0,
//     cr3, cr4, efer; 8 segments cs ds es fs gs ss tr ldt as {u64 base, u32
//     limit, u16 selector, u8 type, u8 present, u8 dpl, u8 db, u8 s, u8 l,
//     u8 g}; gdt, idt as {u64 base, u16 limit}. AArch64: 31 u64 x, sp, pc,
//     pstate; sctlr_el1, vbar_el1, tpidr_el1)
//   data     at data_offset (4 KiB aligned): the stored pages, 4 KiB each.
//   application data at application_offset: bytes the application keeps
//     with the snapshot (SaveOptions::application), opaque to the library;
//     covered by the checksum after the vCPU section.
//
// The sections may come in any order after the header (bytes between them
// are ignored); save() writes header, data, layout, vCPUs, so that pages are
// written while the next ones are still being found.
//
// A frame mapped in several places is one frame-table entry that several
// mappings name. Restoring reads a page from the newest file of the chain
// that has it: a diff's frame without the whole flag takes the pages it does
// not store from its parent frame, recursively.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "guestmem/registers.hpp"
#include "guestmem/snapshot.hpp"
#include "guestmem/system_state.hpp"
#include "guestmem/types.hpp"

namespace guestmem::snapshot::format {

inline constexpr std::array<char, 8> kMagic{'G', 'M', 'S', 'N', 'A', 'P', '\0', '\0'};
inline constexpr std::uint32_t kVersion = 2;
// The first version with the application section.
inline constexpr std::uint32_t kApplicationVersion = 2;
// Bytes of the application section's two fields after the parent name.
inline constexpr std::size_t kApplicationFieldBytes = 16;
// The application section's limit, so that a hostile header cannot make a
// reader allocate more than this.
inline constexpr std::uint64_t kMaxApplicationBytes = std::uint64_t{16} << 20;
inline constexpr std::uint32_t kFlagDiff = 1;
inline constexpr std::uint64_t kNoFrame = ~std::uint64_t{0};
// Offset of the checksum field in the header.
inline constexpr std::size_t kChecksumOffset = 8 + 4 + 4 + 8 + 8 + 4 + 4 + 6 * 8 + 2 * 8;
inline constexpr std::size_t kFixedHeaderBytes = kChecksumOffset + 4 + 2;

inline constexpr std::uint8_t kResAnonymous = 1, kResMapped = 2, kResHasMatch = 4;
inline constexpr std::uint8_t kFrameWhole = 1;
inline constexpr std::uint8_t kPageZero = 1;

/// CRC32C (Castagnoli, reflected, as iSCSI and ext4 use): the SSE4.2
/// instruction where the CPU has it, a table otherwise. `crc` chains calls.
std::uint32_t crc32c(std::span<const std::byte> bytes, std::uint32_t crc = 0);

/// The CRC32C of each of `count` 4 KiB pages, into `out`: three pages at a
/// time, whose independent chains hide the instruction's latency.
void crc32c_pages(const std::byte* const* pages, std::size_t count, std::uint32_t* out);

/// True when all of `page` (a multiple of 64 bytes) is zero.
bool all_zero(const std::byte* page, std::size_t bytes);

struct PageEntry {
    std::uint32_t index = 0;  // page in the frame
    std::uint8_t flags = 0;
    std::uint32_t crc = 0;
    std::uint64_t offset = 0;  // in the data section
};

struct FrameEntry {
    std::uint8_t size_bits = 12;
    std::uint8_t flags = 0;
    std::uint64_t parent = kNoFrame;
    std::vector<PageEntry> pages;
    std::uint64_t bytes() const { return std::uint64_t{1} << size_bits; }
};

struct MappingEntry {
    GuestAddr gpa = 0;
    Rights rights = Rights::none;
    std::uint64_t frame = 0;
};

struct ReservationEntry {
    Range range;
    ReservationKind kind = ReservationKind::device;
    bool anonymous = false;
    bool mapped = false;
    std::optional<std::uint64_t> match;
    std::vector<MappingEntry> mappings;
};

struct VcpuEntry {
    bool saved = false;
    Registers registers;
    SystemState system;
};

struct Header {
    std::uint32_t version = kVersion;
    std::uint32_t header_bytes = 0;
    std::uint64_t id = 0;
    std::uint64_t parent_id = 0;
    std::uint32_t flags = 0;
    Arch arch = Arch::x86_64;
    std::uint64_t layout_offset = 0, layout_bytes = 0;
    std::uint64_t vcpu_offset = 0, vcpu_bytes = 0;
    std::uint64_t data_offset = 0, data_bytes = 0;
    std::uint64_t stored_pages = 0, omitted_pages = 0;
    std::uint32_t checksum = 0;
    std::string parent;
    std::uint64_t application_offset = 0, application_bytes = 0;  // version 2 and later
    /// The header's length in the file: fixed fields, parent name, and the
    /// application section's fields from version 2 on.
    std::uint32_t length() const {
        return static_cast<std::uint32_t>(kFixedHeaderBytes + parent.size() +
                                          (version >= kApplicationVersion ? kApplicationFieldBytes : 0));
    }
};

/// Everything but the data section.
struct Layout {
    std::vector<Range> pools;
    std::vector<Range> allocated;
    std::vector<ReservationEntry> reservations;
    std::vector<FrameEntry> frames;
};

/// Appends little-endian values.
class Writer {
public:
    void u8(std::uint8_t v) { bytes_.push_back(static_cast<std::byte>(v)); }
    void u16(std::uint16_t v) { put(v, 2); }
    void u32(std::uint32_t v) { put(v, 4); }
    void u64(std::uint64_t v) { put(v, 8); }
    void raw(std::span<const std::byte> b) { bytes_.insert(bytes_.end(), b.begin(), b.end()); }
    std::vector<std::byte>& bytes() { return bytes_; }

private:
    void put(std::uint64_t v, int n) {
        for (int i = 0; i < n; ++i) bytes_.push_back(static_cast<std::byte>(v >> (8 * i)));
    }
    std::vector<std::byte> bytes_;
};

/// Reads little-endian values with bounds checks: a read past the end sets
/// failed() and yields 0, so a parser checks once at the end of a record.
class Reader {
public:
    explicit Reader(std::span<const std::byte> bytes) : bytes_(bytes) {}
    std::uint8_t u8() { return static_cast<std::uint8_t>(get(1)); }
    std::uint16_t u16() { return static_cast<std::uint16_t>(get(2)); }
    std::uint32_t u32() { return static_cast<std::uint32_t>(get(4)); }
    std::uint64_t u64() { return get(8); }
    std::string string(std::size_t n) {
        if (n > remaining()) {
            failed_ = true;
            return {};
        }
        std::string s(reinterpret_cast<const char*>(bytes_.data() + pos_), n);
        pos_ += n;
        return s;
    }
    std::size_t remaining() const { return bytes_.size() - pos_; }
    /// True (and failed() from then on) unless `count` records of at least
    /// `min_bytes` each can still follow: a count in a corrupt file cannot
    /// make the parser allocate more than the file holds.
    bool can_hold(std::uint64_t count, std::size_t min_bytes) {
        if (count > remaining() / min_bytes) failed_ = true;
        return !failed_;
    }
    bool failed() const { return failed_; }

private:
    std::uint64_t get(std::size_t n) {
        if (n > remaining()) {
            failed_ = true;
            pos_ = bytes_.size();
            return 0;
        }
        std::uint64_t v = 0;
        for (std::size_t i = 0; i < n; ++i)
            v |= std::uint64_t(std::to_integer<std::uint8_t>(bytes_[pos_ + i])) << (8 * i);
        pos_ += n;
        return v;
    }
    std::span<const std::byte> bytes_;
    std::size_t pos_ = 0;
    bool failed_ = false;
};

std::vector<std::byte> encode_header(const Header& header);
std::vector<std::byte> encode_layout(const Layout& layout);
std::vector<std::byte> encode_vcpus(const std::vector<VcpuEntry>& vcpus);

/// Parsers: an empty optional and `why` set on malformed input.
std::optional<Header> decode_header(std::span<const std::byte> bytes, std::string& why);
std::optional<Layout> decode_layout(std::span<const std::byte> bytes, std::string& why);
std::optional<std::vector<VcpuEntry>> decode_vcpus(std::span<const std::byte> bytes, std::string& why);

}  // namespace guestmem::snapshot::format
