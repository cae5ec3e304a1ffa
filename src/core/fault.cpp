// SPDX-License-Identifier: BSD-2-Clause
#include "guestmem/fault.hpp"

#include "guestmem/vcpu.hpp"

#include "access_split.hpp"
#include "format.hpp"

namespace guestmem {

namespace {
unsigned lane_shift(GuestAddr addr) { return static_cast<unsigned>(addr & 3) * 8; }
}  // namespace

std::uint64_t Fault::data_mask() const {
    if (access_.size >= 8) return ~std::uint64_t{0};
    return size_mask(access_.size) << lane_shift(access_.addr);
}

GuestAddr Fault::ip() const { return vcpu_.backend().instruction_pointer(); }

std::uint64_t Fault::emulate(std::uint64_t word) const {
    const std::uint64_t mask = data_mask();
    const unsigned shift = access_.size >= 8 ? 0 : lane_shift(access_.addr);
    if (is_read()) return (word & ~(mask >> shift)) | ((access_.data & mask) >> shift);
    return (word & ~mask) | ((access_.data << shift) & mask);
}

std::string describe(const FaultReport& report) {
    const Access& a = report.access;
    return std::string("guest ") + (a.is_write ? "write" : "read") + " of " + std::to_string(a.size) + " bytes at " +
           hex(a.addr) + " (ip " + hex(report.ip) + ") failed: " + report.reason;
}

}  // namespace guestmem
