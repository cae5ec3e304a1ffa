// SPDX-License-Identifier: BSD-2-Clause
// A doorbell between two VMs: ringing one side counts on the other.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>

#include "guestmem/fault.hpp"

namespace vmm {

/// What both ends of a doorbell pair share: one ring counter per side.
class DoorbellLine {
public:
    void ring(unsigned side);
    std::uint32_t rings(unsigned side) const { return rings_[side].load(); }

private:
    std::atomic<std::uint32_t> rings_[2] = {0, 0};
};

/// One end of a doorbell: a 4-byte register. A write rings the peer (its
/// counter goes up by one); a read returns how often the peer rang us. Guests
/// wait for each other by polling their own doorbell.
///
/// Thread safety: safe from any thread (each VM runs on its own).
class Doorbell {
public:
    static constexpr std::uint64_t kSize = 4;

    Doorbell(std::shared_ptr<DoorbellLine> line, unsigned side) : line_(std::move(line)), side_(side) {}
    guestmem::FaultResult on_fault(guestmem::Fault& fault);
    std::uint32_t rings_received() const { return line_->rings(side_); }

private:
    std::shared_ptr<DoorbellLine> line_;
    unsigned side_;
};

}  // namespace vmm
