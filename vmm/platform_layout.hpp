// SPDX-License-Identifier: BSD-2-Clause
// Where the demo VMM puts things in guest-physical memory. Guests are built
// against the same numbers (guests/vmm_platform.inc mirrors them).
#pragma once

#include <cstdint>

namespace vmm::layout {

inline constexpr std::uint64_t kRamBase = 0x0;
inline constexpr std::uint64_t kDefaultRamSize = std::uint64_t{4} << 20;
/// RAM sizes the machine accepts: from kMinRam up to the ROM, in 4 KiB steps.
inline constexpr std::uint64_t kMinRam = std::uint64_t{2} << 20;
constexpr bool valid_ram_size(std::uint64_t bytes) {
    return bytes >= kMinRam && bytes % 4096 == 0 && bytes <= 0xfe000000;  // kRomBase
}
/// With deferred RAM, RAM is reserved in chunks, each mapped on its first touch:
/// 64 KiB, or the smallest larger power of two that keeps RAM within
/// kMaxLazyChunks reservations. Each reservation costs the backend a memory
/// slot (KVM) or an emulator region (Unicorn), and both take longer to add one
/// the more they hold: Unicorn 2.0.1 about 3 ms per map at 1,000 regions, and
/// it aborts past about 4,000, so 64 KiB chunks of 1 GiB (16,384) would not run.
inline constexpr std::uint64_t kMinLazyChunk = std::uint64_t{64} << 10;
inline constexpr std::uint64_t kMaxLazyChunks = 256;
constexpr std::uint64_t lazy_chunk_size(std::uint64_t ram_size) {
    std::uint64_t chunk = kMinLazyChunk;
    while (ram_size / chunk > kMaxLazyChunks) chunk *= 2;
    return chunk;
}

inline constexpr std::uint64_t kRomBase = 0xfe000000;  ///< boot information, read-only
inline constexpr std::uint64_t kRomSize = 0x1000;
inline constexpr std::uint64_t kUartBase = 0xfe001000;      ///< 16550 subset, byte registers
inline constexpr std::uint64_t kExitBase = 0xfe002000;      ///< write: exit status
inline constexpr std::uint64_t kDoorbellBase = 0xfe002010;  ///< write: ring the peer; read: rings received
inline constexpr std::uint64_t kSharedBase = 0xfe100000;    ///< a frame shared with the peer VM
inline constexpr std::uint64_t kSharedSize = 0x1000;

/// The boot information at kRomBase, little-endian, as the guest reads it.
struct BootInfo {
    char magic[8];  ///< "GUESTMEM"
    std::uint64_t ram_base;
    std::uint64_t ram_size;
    std::uint64_t uart_base;
    std::uint64_t exit_base;
    std::uint64_t doorbell_base;
    std::uint64_t shared_base;  ///< 0 without a peer
    std::uint64_t vm_index;     ///< 0 or 1 in a pair
};

}  // namespace vmm::layout
