// SPDX-License-Identifier: BSD-2-Clause
/// @file
/// Checked VMM-side access to guest memory: copy bytes and objects in and out
/// of a VM's guest-physical address space.
///
/// Every function here works on the VMM's own view of the frames (no
/// temporary mappings), across frames of any size and across reservations, and
/// checks the whole range before it copies anything: a call that fails has
/// copied nothing (see Vm::visit_memory for the rules and error codes).
///
/// Memory shared with a running guest: guest memory may change at any moment
/// (another vCPU, a device, another VM sharing the frame). These functions copy
/// with single loads and stores the compiler cannot split or repeat: aligned
/// 16-byte vector moves in the middle of large copies on x86-64 CPUs with AVX
/// (which perform them atomically), relaxed atomic 8-byte words elsewhere, and
/// at the ends the widest naturally aligned relaxed atomic access that fits
/// (4, 2 or 1 bytes). So
///  - each byte of guest memory is read exactly once: a value read into the
///    caller's buffer does not change after the copy, so validate the copy,
///    never the guest memory (no double fetch);
///  - every naturally aligned 2-, 4- and 8-byte piece of a copy is one single
///    access: a value of that size that is aligned in guest memory is never
///    torn (read_guest_value<std::uint16_t> of a virtio ring index at offset
///    2 sees the old or the new index, never a mix), but an object larger
///    than 8 bytes may mix old and new pieces if the guest writes it
///    meanwhile (hardware DMA has the same property);
///  - they are ThreadSanitizer clean against the library's own guest accesses
///    (TSan builds use only the atomic word loop).
///
/// Thread safety: every function may be called from any thread, while guests
/// run and while other threads reserve, map and free. The reservations a copy
/// touches are held for the duration of the copy: a concurrent free waits for
/// it, so a copy never touches freed memory.
#pragma once

#include <guestmem/export.h>

#include <array>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>
#include <type_traits>

#include "guestmem/error.hpp"
#include "guestmem/types.hpp"
#include "guestmem/vm.hpp"

namespace guestmem {

/// Whose rights a VMM-side write honours.
enum class WriteRights {
    guest,  ///< refuse to write frames the guest may only read (Errc::permission_denied)
    vmm,    ///< also write read-only frames: the VMM owns them (how a ROM gets its contents)
};

/// Copies guest memory [addr, addr + bytes.size()) into `bytes`.
/// Errors: as Vm::visit_memory with Rights::read (Errc::not_initialized,
/// Errc::invalid_argument, Errc::not_mapped, Errc::reentrant_call).
/// On error `bytes` is left unchanged.
GUESTMEM_API Result<void> read_guest(Vm& vm, GuestAddr addr, std::span<std::byte> bytes);

/// Copies `bytes` into guest memory at `addr`. With WriteRights::guest (the
/// default) every byte must be in a frame the guest may write; otherwise
/// Errc::permission_denied and nothing is written.
/// Errors: as Vm::visit_memory. On error guest memory is unchanged.
GUESTMEM_API Result<void> write_guest(Vm& vm, GuestAddr addr, std::span<const std::byte> bytes,
                                      WriteRights rights = WriteRights::guest);

/// Sets guest memory [addr, addr + size) to `value` (e.g. zeroing a BSS).
/// Same rules and errors as write_guest.
GUESTMEM_API Result<void> fill_guest(Vm& vm, GuestAddr addr, std::uint64_t size, std::byte value,
                                     WriteRights rights = WriteRights::guest);

/// Types that can be copied to and from guest memory as bytes.
template <class T>
concept GuestCopyable = std::is_trivially_copyable_v<T> && !std::is_pointer_v<T> && !std::is_const_v<T>;

/// Reads one object of type T from guest memory at `addr` (any alignment).
/// Errors: as read_guest.
template <GuestCopyable T>
Result<T> read_guest_value(Vm& vm, GuestAddr addr) {
    std::array<std::byte, sizeof(T)> buffer{};
    if (auto ok = read_guest(vm, addr, buffer); !ok) return ok.error();
    return std::bit_cast<T>(buffer);
}

/// Writes one object of type T to guest memory at `addr` (any alignment).
/// Errors: as write_guest.
template <GuestCopyable T>
Result<void> write_guest_value(Vm& vm, GuestAddr addr, const T& value, WriteRights rights = WriteRights::guest) {
    const auto buffer = std::bit_cast<std::array<std::byte, sizeof(T)>>(value);
    return write_guest(vm, addr, buffer, rights);
}

/// Reads objects.size() consecutive objects of type T from guest memory at `addr`.
/// Errors: as read_guest.
template <GuestCopyable T>
Result<void> read_guest_span(Vm& vm, GuestAddr addr, std::span<T> objects) {
    return read_guest(vm, addr, std::as_writable_bytes(objects));
}

/// Writes consecutive objects of type T to guest memory at `addr`.
/// Errors: as write_guest.
template <GuestCopyable T>
Result<void> write_guest_span(Vm& vm, GuestAddr addr, std::span<const T> objects,
                              WriteRights rights = WriteRights::guest) {
    return write_guest(vm, addr, std::as_bytes(objects), rights);
}

/// Loads a flat image (e.g. made with objcopy -O binary) at `addr`: a write
/// with WriteRights::vmm, so that a ROM (read-only frames) can be loaded too.
/// The range must be mapped RAM (pending deferred mappings are completed
/// first). Errors: as write_guest (Errc::not_mapped, ...); nothing is written
/// on error.
GUESTMEM_API Result<void> load_image(Vm& vm, GuestAddr addr, std::span<const std::byte> image);
/// Loads the flat image file at `path` at `addr`; returns its size in bytes.
/// Errc::invalid_argument when the file cannot be opened or read; otherwise
/// errors as load_image.
GUESTMEM_API Result<std::uint64_t> load_image_file(Vm& vm, GuestAddr addr, const std::string& path);

/// Guest images are at most this many bytes (1 GiB) unless a caller says otherwise.
inline constexpr std::uint64_t kMaxImageBytes = std::uint64_t{1} << 30;

/// Reads the whole of the regular file at `path`, at most `max_bytes` bytes.
/// What the path names is checked on the opened descriptor before a byte is
/// read (the open itself does not block): a FIFO, whose plain open would
/// wait for a writer for ever, a directory or a device such as /dev/zero,
/// which never ends, is refused at once. `what` names the file in messages
/// ("guest image", "--script"). Errors: Errc::invalid_argument (cannot be
/// opened or read, not a regular file, larger than `max_bytes`, changed
/// while read), with `what`, the path and the reason. Thread safety: any thread.
GUESTMEM_API Result<std::vector<std::byte>> read_regular_file(const std::string& path, std::string_view what,
                                                              std::uint64_t max_bytes);

/// Reads a whole guest image file: a regular file of at most `max_bytes`
/// bytes. Errors: Errc::invalid_argument (cannot be opened, not a regular
/// file, e.g. a directory or a device like /dev/zero, larger than
/// `max_bytes`, or a read error), with the path and the reason.
GUESTMEM_API Result<std::vector<std::byte>> read_image_file(const std::string& path,
                                                            std::uint64_t max_bytes = kMaxImageBytes);

/// The copy loops the functions above use, for callers of Vm::visit_memory:
/// copy between guest memory (`guest`, shared with running guests) and private
/// memory (`mine`) as described at the top of this header. The spans should
/// have the same size (the smaller one counts) and must not overlap. Never fail.
GUESTMEM_API void copy_from_guest_memory(std::span<std::byte> mine, std::span<const std::byte> guest);
/// Copies private memory into guest memory; see copy_from_guest_memory.
GUESTMEM_API void copy_to_guest_memory(std::span<std::byte> guest, std::span<const std::byte> mine);
/// Sets guest memory to `value` with the same access pattern.
GUESTMEM_API void fill_guest_memory(std::span<std::byte> guest, std::byte value);

}  // namespace guestmem
