// SPDX-License-Identifier: BSD-2-Clause
#include "x86_local_apic.hpp"

#include <bit>

namespace guestmem::emu {

namespace {

// Register offsets in the xAPIC page (Intel SDM vol. 3, table 11-1).
enum : std::uint64_t {
    kId = 0x20,
    kVersion = 0x30,
    kTpr = 0x80,
    kApr = 0x90,
    kPpr = 0xa0,
    kEoi = 0xb0,
    kLdr = 0xd0,
    kDfr = 0xe0,
    kSvr = 0xf0,
    kIsr = 0x100,  // to 0x170
    kTmr = 0x180,  // to 0x1f0
    kIrr = 0x200,  // to 0x270
    kEsr = 0x280,
    kLvtCmci = 0x2f0,
    kIcrLow = 0x300,
    kIcrHigh = 0x310,
    kLvtTimer = 0x320,  // then thermal, performance, LINT0, LINT1, error, 0x10 apart
    kLvtError = 0x370,
    kInitialCount = 0x380,
    kCurrentCount = 0x390,
    kDivide = 0x3e0,
};

// Version 0x14 (an integrated APIC), maximum LVT entry 6 (CMCI to error).
constexpr std::uint32_t kVersionValue = 0x14 | (6u << 16);

// LVT timer mode, bits 18:17.
constexpr std::uint32_t kTimerModeShift = 17;
constexpr std::uint32_t kTimerPeriodic = 1;

// Which lvt_ entry an offset is: CMCI is 0, timer to error 1 to 6.
std::optional<unsigned> lvt_index(std::uint64_t offset) {
    if (offset == kLvtCmci) return 0;
    if (offset >= kLvtTimer && offset <= kLvtError) return static_cast<unsigned>((offset - kLvtTimer) / 0x10 + 1);
    return std::nullopt;
}

}  // namespace

std::optional<std::uint8_t> LocalApic::highest(const std::array<std::uint32_t, 8>& bits) {
    for (unsigned i = 8; i-- > 0;) {
        if (bits[i] != 0)
            return static_cast<std::uint8_t>(i * 32 + 31 - static_cast<unsigned>(std::countl_zero(bits[i])));
    }
    return std::nullopt;
}

std::optional<std::uint8_t> LocalApic::highest_irr() const { return highest(irr_); }

std::uint32_t LocalApic::ppr() const {
    // The processor priority: the TPR, or the class of the highest vector in
    // service if that is higher (SDM 11.8.3.1).
    const auto in_service = highest(isr_);
    const std::uint32_t isr_class = in_service ? (*in_service & 0xf0u) : 0;
    return (tpr_ & 0xf0u) >= isr_class ? (tpr_ & 0xffu) : isr_class;
}

bool LocalApic::accepts(std::uint8_t vector) const { return (vector & 0xf0u) > (ppr() & 0xf0u); }

void LocalApic::set_irr(std::uint8_t vector) {
    if (test(irr_, vector)) return;
    irr_[vector / 32] |= 1u << (vector % 32);
    ++irr_count_;
}

void LocalApic::accept(std::uint8_t vector) {
    if (test(irr_, vector)) {
        irr_[vector / 32] &= ~(1u << (vector % 32));
        --irr_count_;
    }
    isr_[vector / 32] |= 1u << (vector % 32);
}

std::uint64_t LocalApic::tick_ns() const {
    // Bits 3, 1, 0: 0b111 divides by 1, n otherwise by 2^(n+1).
    const std::uint32_t code = ((divide_ >> 1) & 4u) | (divide_ & 3u);
    return code == 7 ? 1 : std::uint64_t{2} << code;
}

void LocalApic::start_timer(Clock::time_point now) {
    if (initial_count_ == 0) {
        deadline_.reset();
        return;
    }
    period_ = std::chrono::nanoseconds(static_cast<std::int64_t>(initial_count_ * tick_ns()));
    deadline_ = now + period_;
}

void LocalApic::poll_timer(Clock::time_point now) {
    if (!deadline_ || now < *deadline_) return;
    const std::uint32_t lvt = lvt_[1];
    if ((lvt & kLvtMask) == 0 && (lvt & 0xffu) >= 16) set_irr(static_cast<std::uint8_t>(lvt & 0xffu));
    if (((lvt >> kTimerModeShift) & 3u) == kTimerPeriodic) {
        // Missed periods coalesce: the next deadline is the first one in the future.
        const auto late = now - *deadline_;
        deadline_ = *deadline_ + period_ * (late / period_ + 1);
    } else {
        deadline_.reset();
    }
}

std::uint32_t LocalApic::read(std::uint64_t offset, unsigned size, Clock::time_point now) const {
    if (size != 4 || offset % 16 != 0) return 0;
    if (offset >= kIsr && offset < kIsr + 0x80) return isr_[(offset - kIsr) / 16];
    if (offset >= kIrr && offset < kIrr + 0x80) return irr_[(offset - kIrr) / 16];
    if (auto lvt = lvt_index(offset)) return lvt_[*lvt];
    switch (offset) {
    case kId: return id_ << 24;
    case kVersion: return kVersionValue;
    case kTpr: return tpr_;
    case kPpr: return ppr();
    case kLdr: return ldr_;
    case kDfr: return dfr_;
    case kSvr: return svr_;
    case kIcrLow: return icr_low_ & ~(1u << 12);  // delivery status: idle
    case kIcrHigh: return icr_high_;
    case kInitialCount: return initial_count_;
    case kCurrentCount: {
        if (!deadline_ || now >= *deadline_) return 0;
        const auto left = std::chrono::duration_cast<std::chrono::nanoseconds>(*deadline_ - now).count();
        return static_cast<std::uint32_t>(static_cast<std::uint64_t>(left) / tick_ns());
    }
    case kDivide: return divide_;
    default: return 0;  // APR, ESR, TMR and reserved
    }
}

std::optional<std::uint8_t> LocalApic::write(std::uint64_t offset, unsigned size, std::uint32_t value,
                                             Clock::time_point now) {
    if (size != 4 || offset % 16 != 0) return std::nullopt;
    if (auto lvt = lvt_index(offset)) {
        // Vector, delivery mode, mask (and the timer's mode): bits 0-10, 15-18.
        lvt_[*lvt] = value & (0xffu | (7u << 8) | (1u << 15) | kLvtMask | (3u << kTimerModeShift));
        if (!enabled()) lvt_[*lvt] |= kLvtMask;  // cannot be unmasked while software disabled
        return std::nullopt;
    }
    switch (offset) {
    case kTpr: tpr_ = value & 0xffu; break;
    case kEoi: {
        // Ends the highest vector in service (SDM 11.8.5); the value is ignored.
        const auto ended = highest(isr_);
        if (ended) isr_[*ended / 32] &= ~(1u << (*ended % 32));
        return ended;
    }
    case kLdr: ldr_ = value & 0xff000000u; break;
    case kDfr: dfr_ = value | 0x0fffffffu; break;
    case kSvr:
        svr_ = value & 0x3ffu;
        if (!enabled()) {
            // Software disable masks every LVT entry (SDM 11.4.7.2).
            for (auto& entry : lvt_) entry |= kLvtMask;
        }
        break;
    case kIcrLow: icr_low_ = value; break;  // no IPIs: one vCPU gets nothing from another here
    case kIcrHigh: icr_high_ = value; break;
    case kInitialCount:
        initial_count_ = value;
        start_timer(now);
        break;
    case kDivide: divide_ = value & 0xbu; break;
    default: break;  // read-only or reserved
    }
    return std::nullopt;
}

}  // namespace guestmem::emu
