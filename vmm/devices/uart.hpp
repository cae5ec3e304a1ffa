// SPDX-License-Identifier: BSD-2-Clause
// A 16550 UART subset: enough for a guest to print.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>

#include "guestmem/fault.hpp"

namespace vmm {

/// Eight byte-wide registers at offsets 0-7 of its reservation. Transmit
/// (THR, offset 0) sends the byte to the output; LSR (offset 5) always reports
/// the transmitter empty; there is no receive data. The divisor latch
/// (LCR bit 7) and scratch register are stored so guests that program the
/// UART read back what they wrote.
///
/// Thread safety: on_fault may be called from several vCPU threads.
class Uart {
public:
    static constexpr std::uint64_t kSize = 8;
    using Output = std::function<void(char)>;

    explicit Uart(Output output) : output_(std::move(output)) {}

    guestmem::FaultResult on_fault(guestmem::Fault& fault);
    /// Everything transmitted so far.
    std::string transmitted() const;

    /// The device's state, for snapshots: registers and output so far.
    struct State {
        std::array<std::uint8_t, 8> regs{};
        std::uint8_t divisor_low = 0, divisor_high = 0;
        std::string transmitted;
    };
    State state() const;
    /// Puts the device back in `state` (a restored guest continues with it);
    /// the output already transmitted is not sent to the output again.
    void set_state(State state);

private:
    std::uint8_t read(unsigned reg);
    void write(unsigned reg, std::uint8_t value);

    Output output_;
    mutable std::mutex mutex_;
    std::array<std::uint8_t, 8> regs_{};
    std::uint8_t divisor_low_ = 0, divisor_high_ = 0;
    std::string transmitted_;
};

}  // namespace vmm
