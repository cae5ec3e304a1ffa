// SPDX-License-Identifier: BSD-2-Clause
// The I/O APIC of an x86-64 VM on the emulator: IOREGSEL/IOWIN and 24
// redirection entries (Intel 82093AA I/O APIC datasheet).
#pragma once

#include <array>
#include <cstdint>
#include <mutex>

namespace guestmem::emu {

/// The VM's I/O APIC, as the guest sees it through its page at kBase. Pin n
/// is line n of the VM's InterruptController (n < kPins); the pin's
/// redirection entry gives the vector, and a masked pin is not delivered
/// (the line stays pending until the guest unmasks it).
///
/// Registers: ID (0x00), version (0x01: 0x11, maximum redirection entry
/// kPins - 1), arbitration (0x02, the ID), redirection entries 0x10 + 2n
/// (low: vector, delivery mode, destination mode, polarity, trigger mode,
/// mask; high: destination). Delivery status and remote IRR read 0. The
/// destination is kept for the guest to read back, not used for routing: a
/// line goes to the vCPU it was registered for.
///
/// Thread safety: every member may be called from any vCPU's thread.
class IoApic {
public:
    static constexpr std::uint64_t kBase = 0xfec00000;
    static constexpr std::uint64_t kSize = 0x1000;
    static constexpr unsigned kPins = 24;

    /// One redirection entry, decoded.
    struct Route {
        std::uint8_t vector = 0;
        bool masked = true;
        bool level = false;  ///< trigger mode: level (the line's own kind decides re-delivery)
        std::uint8_t destination = 0;
    };

    /// A guest access at `offset` in the page: IOREGSEL at 0x00, IOWIN at
    /// 0x10, 4 bytes (other accesses read 0 and ignore writes).
    std::uint32_t read(std::uint64_t offset, unsigned size) const;
    void write(std::uint64_t offset, unsigned size, std::uint32_t value);

    /// The route of pin `pin` (< kPins).
    Route route(unsigned pin) const;

private:
    std::uint32_t read_register(std::uint32_t index) const;
    void write_register(std::uint32_t index, std::uint32_t value);

    mutable std::mutex mutex_;
    std::uint32_t select_ = 0;
    std::uint32_t id_ = 0;
    std::array<std::uint64_t, kPins> entries_ = [] {
        std::array<std::uint64_t, kPins> masked{};
        masked.fill(std::uint64_t{1} << 16);  // reset: every pin masked
        return masked;
    }();
};

}  // namespace guestmem::emu
