// SPDX-License-Identifier: BSD-2-Clause
/// @file
/// Value types shared by every part of the guestmem C++ API.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>

/// guestmem's C++ API: guest-physical address spaces (Vm), their RAM
/// (GuestRam), frames and capabilities (CapabilitySpace), faults, and the
/// backends (guestmem::sim, guestmem::kvm). See the @ref concepts "concepts".
namespace guestmem {

/// A guest-physical address.
using GuestAddr = std::uint64_t;

/// A capability to a frame in a CapabilitySpace (the same value as an seL4_CPtr).
using Cap = std::uint64_t;
/// The null capability: never names a frame (seL4_CapNull).
inline constexpr Cap kNullCap = 0;

/// log2 of the page size (seL4_PageBits).
inline constexpr std::size_t kPageBits = 12;
/// The page size: the granule of anonymous pools and RAM registration.
inline constexpr std::size_t kPageSize = std::size_t{1} << kPageBits;

/// The frame sizes a guest can be given, as log2 of their byte size.
enum class FrameSize : std::uint8_t { k4KiB = 12, k2MiB = 21, k1GiB = 30 };

/// log2 of a frame size's bytes (12, 21 or 30).
constexpr std::size_t bits_of(FrameSize s) { return static_cast<std::size_t>(s); }
/// The bytes of a frame size.
constexpr std::size_t bytes_of(FrameSize s) { return std::size_t{1} << bits_of(s); }

/// The frame size with `bits` as log2 of its size, if there is one.
constexpr std::optional<FrameSize> frame_size_from_bits(std::size_t bits) {
    switch (bits) {
    case 12: return FrameSize::k4KiB;
    case 21: return FrameSize::k2MiB;
    case 30: return FrameSize::k1GiB;
    default: return std::nullopt;
    }
}

/// Capability rights, bit for bit the layout of seL4_CapRights_t.
enum class Rights : std::uint8_t {
    none = 0,
    write = 1u << 0,
    read = 1u << 1,
    grant = 1u << 2,
    grant_reply = 1u << 3,
    read_write = read | write,
    all = write | read | grant | grant_reply,
};

/// The rights in both sets.
constexpr Rights operator&(Rights a, Rights b) {
    return static_cast<Rights>(static_cast<std::uint8_t>(a) & static_cast<std::uint8_t>(b));
}
/// The rights in either set.
constexpr Rights operator|(Rights a, Rights b) {
    return static_cast<Rights>(static_cast<std::uint8_t>(a) | static_cast<std::uint8_t>(b));
}
/// True when every right in `wanted` is in `held`.
constexpr bool has_rights(Rights held, Rights wanted) { return (held & wanted) == wanted; }

/// Mask of the low `size` bytes of a 64-bit value (all ones for 8 or more):
/// the bytes an access of `size` bytes carries.
constexpr std::uint64_t size_mask(std::size_t size) {
    return size >= 8 ? ~std::uint64_t{0} : (std::uint64_t{1} << (size * 8)) - 1;
}

/// A half-open range of guest-physical addresses [base, base + size).
struct Range {
    GuestAddr base = 0;      ///< first address
    std::uint64_t size = 0;  ///< bytes

    /// One past the last address (exact when fits_address_space(base, size);
    /// 0 for a range that ends exactly at 2^64).
    constexpr GuestAddr end() const { return base + size; }
    /// The last address (size > 0): exact for every range that
    /// ends_within_address_space(), including one ending at 2^64.
    constexpr GuestAddr last() const { return base + (size - 1); }
    /// True when `addr` lies in the range.
    constexpr bool contains(GuestAddr addr) const { return addr >= base && addr - base < size; }
    /// True when [addr, addr + len) lies wholly inside this range (len > 0).
    constexpr bool contains(GuestAddr addr, std::uint64_t len) const {
        return contains(addr) && len <= size - (addr - base);
    }
    /// True when the two ranges (both non-empty) share an address.
    constexpr bool overlaps(const Range& o) const { return base <= o.last() && o.base <= last(); }
    /// Same base and size.
    friend constexpr bool operator==(const Range&, const Range&) = default;
};

/// True when base + size can be computed without wrapping (so Range::end() is exact).
constexpr bool fits_address_space(GuestAddr base, std::uint64_t size) { return size <= UINT64_MAX - base; }

/// True when every byte of [base, base + size) is an address: the range may
/// end exactly at 2^64 (the last page is a legal place for a reservation)
/// but not wrap past it. Size 0 is within.
constexpr bool ends_within_address_space(GuestAddr base, std::uint64_t size) {
    return size == 0 || size - 1 <= UINT64_MAX - base;
}

/// Identifies a reservation; never reused within a process.
enum class ReservationId : std::uint64_t { none = 0 };

/// Which hypervisor a Vm runs on; the values are those of vm_backend_t.
enum class BackendKind {
    sim = 0,        ///< no hypervisor: accesses performed by the caller (guestmem/sim.hpp)
    kvm = 1,        ///< Linux KVM (/dev/kvm), x86-64 guests on x86-64 hosts
    emu = 2,        ///< a CPU emulator (Unicorn): x86-64 and AArch64 guests on any host
    automatic = 3,  ///< "auto": kvm where /dev/kvm opens and runs the guest's architecture, else emu
};

}  // namespace guestmem
