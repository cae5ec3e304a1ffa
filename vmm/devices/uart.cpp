// SPDX-License-Identifier: BSD-2-Clause
#include "uart.hpp"

namespace vmm {

namespace {
enum Reg : unsigned { kData = 0, kIer = 1, kIirFcr = 2, kLcr = 3, kMcr = 4, kLsr = 5, kMsr = 6, kScratch = 7 };
constexpr std::uint8_t kDlab = 0x80;
constexpr std::uint8_t kLsrTransmitterEmpty = 0x60;  // THRE | TEMT
constexpr std::uint8_t kIirNoInterrupt = 0x01;
}  // namespace

guestmem::FaultResult Uart::on_fault(guestmem::Fault& fault) {
    const unsigned reg = static_cast<unsigned>(fault.offset());
    std::lock_guard lock(mutex_);
    // Wider accesses act on their first register, as on a byte-wide bus.
    if (fault.is_write()) {
        write(reg, static_cast<std::uint8_t>(fault.data()));
    } else {
        fault.set_data(read(reg));
    }
    return guestmem::FaultResult::handled;
}

std::uint8_t Uart::read(unsigned reg) {
    const bool dlab = regs_[kLcr] & kDlab;
    switch (reg) {
    case kData: return dlab ? divisor_low_ : 0;
    case kIer: return dlab ? divisor_high_ : regs_[kIer];
    case kIirFcr: return kIirNoInterrupt;
    case kLsr: return kLsrTransmitterEmpty;
    case kMsr: return 0;
    default: return regs_[reg];
    }
}

void Uart::write(unsigned reg, std::uint8_t value) {
    const bool dlab = regs_[kLcr] & kDlab;
    if (reg == kData && !dlab) {
        transmitted_.push_back(static_cast<char>(value));
        if (output_) output_(static_cast<char>(value));
        return;
    }
    if (reg == kData) divisor_low_ = value;
    else if (reg == kIer && dlab) divisor_high_ = value;
    else if (reg != kLsr && reg != kMsr && reg != kIirFcr) regs_[reg] = value;
}

std::string Uart::transmitted() const {
    std::lock_guard lock(mutex_);
    return transmitted_;
}

Uart::State Uart::state() const {
    std::lock_guard lock(mutex_);
    return State{regs_, divisor_low_, divisor_high_, transmitted_};
}

void Uart::set_state(State state) {
    std::lock_guard lock(mutex_);
    regs_ = state.regs;
    divisor_low_ = state.divisor_low;
    divisor_high_ = state.divisor_high;
    transmitted_ = std::move(state.transmitted);
}

}  // namespace vmm
