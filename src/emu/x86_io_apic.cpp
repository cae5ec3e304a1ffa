// SPDX-License-Identifier: BSD-2-Clause
#include "x86_io_apic.hpp"

namespace guestmem::emu {

namespace {

constexpr std::uint64_t kSelect = 0x00;
constexpr std::uint64_t kWindow = 0x10;
constexpr std::uint32_t kIdRegister = 0x00;
constexpr std::uint32_t kVersionRegister = 0x01;
constexpr std::uint32_t kArbitrationRegister = 0x02;
constexpr std::uint32_t kFirstEntry = 0x10;
constexpr std::uint32_t kVersion = 0x11 | ((IoApic::kPins - 1) << 16);
// Writable bits of an entry: vector, delivery mode, destination mode,
// polarity, trigger mode, mask (bits 0-11, 13, 15, 16) and the destination
// (bits 56-63). Delivery status (12) and remote IRR (14) are read-only.
constexpr std::uint64_t kEntryWritable = 0xfffu | (1u << 13) | (1u << 15) | (1u << 16) | (std::uint64_t{0xff} << 56);

}  // namespace

std::uint32_t IoApic::read(std::uint64_t offset, unsigned size) const {
    if (size != 4) return 0;
    std::lock_guard lock(mutex_);
    if (offset == kSelect) return select_;
    if (offset == kWindow) return read_register(select_);
    return 0;
}

void IoApic::write(std::uint64_t offset, unsigned size, std::uint32_t value) {
    if (size != 4) return;
    std::lock_guard lock(mutex_);
    if (offset == kSelect) {
        select_ = value & 0xffu;
    } else if (offset == kWindow) {
        write_register(select_, value);
    }
}

std::uint32_t IoApic::read_register(std::uint32_t index) const {
    switch (index) {
    case kIdRegister:
    case kArbitrationRegister: return id_;
    case kVersionRegister: return kVersion;
    default: break;
    }
    if (index >= kFirstEntry && index < kFirstEntry + 2 * kPins) {
        const std::uint64_t entry = entries_[(index - kFirstEntry) / 2];
        return static_cast<std::uint32_t>((index & 1u) != 0 ? entry >> 32 : entry);
    }
    return 0;
}

void IoApic::write_register(std::uint32_t index, std::uint32_t value) {
    if (index == kIdRegister) {
        id_ = value & 0x0f000000u;
        return;
    }
    if (index < kFirstEntry || index >= kFirstEntry + 2 * kPins) return;  // version, arbitration: read-only
    std::uint64_t& entry = entries_[(index - kFirstEntry) / 2];
    const std::uint64_t half = (index & 1u) != 0 ? std::uint64_t{value} << 32 : std::uint64_t{value};
    const std::uint64_t lanes = (index & 1u) != 0 ? 0xffffffff00000000u : 0xffffffffu;
    entry = (entry & ~(lanes & kEntryWritable)) | (half & lanes & kEntryWritable);
}

IoApic::Route IoApic::route(unsigned pin) const {
    std::lock_guard lock(mutex_);
    const std::uint64_t entry = entries_[pin];
    Route route;
    route.vector = static_cast<std::uint8_t>(entry & 0xffu);
    route.masked = (entry & (1u << 16)) != 0;
    route.level = (entry & (1u << 15)) != 0;
    route.destination = static_cast<std::uint8_t>(entry >> 56);
    return route;
}

}  // namespace guestmem::emu
