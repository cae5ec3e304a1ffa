// SPDX-License-Identifier: BSD-2-Clause
// The local APIC of an x86-64 vCPU on the emulator: the xAPIC registers a
// guest programs (Intel SDM vol. 3, ch. 11) and its interrupt state.
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <optional>

namespace guestmem::emu {

/// One vCPU's local APIC, as the guest sees it through its 4 KiB xAPIC page
/// (kLocalApicBase). A plain model: the vCPU's thread owns it (MMIO accesses,
/// delivery, HLT); nothing here is shared.
///
/// Registers: ID, version, TPR, PPR, EOI, SVR (bit 8: APIC software enable),
/// ISR, TMR (0), IRR, ESR (0), the LVT entries (kept as written; only the
/// timer's is acted on), ICR (kept, no IPIs), timer initial count, current
/// count and divide configuration. Other offsets read 0 and ignore writes,
/// as do accesses that are not 4 bytes at a register's offset.
///
/// The timer counts at 1 GHz before the divider (one tick per nanosecond,
/// the APIC bus KVM's in-kernel LAPIC models), one-shot or periodic; a
/// TSC-deadline mode write is kept but the timer does not run in it.
/// Firing sets the LVT timer vector in the IRR unless the entry is masked;
/// missed periods of a periodic timer coalesce into that one interrupt.
class LocalApic {
public:
    using Clock = std::chrono::steady_clock;

    static constexpr std::uint64_t kBase = 0xfee00000;  ///< where the guest finds the page
    static constexpr std::uint64_t kSize = 0x1000;

    explicit LocalApic(std::uint32_t id) : id_(id) {}

    /// A 4-byte read at `offset` in the page (other sizes: 0).
    std::uint32_t read(std::uint64_t offset, unsigned size, Clock::time_point now) const;
    /// A write at `offset`. Returns the vector an EOI write ended, if any.
    std::optional<std::uint8_t> write(std::uint64_t offset, unsigned size, std::uint32_t value, Clock::time_point now);

    /// SVR bit 8: the guest enabled the APIC. A disabled APIC delivers nothing.
    bool enabled() const { return (svr_ & kSvrEnable) != 0; }
    /// Some vector is requested in the IRR.
    bool irr_pending() const { return irr_count_ != 0; }
    /// The highest vector in the IRR, if any.
    std::optional<std::uint8_t> highest_irr() const;
    /// Whether the APIC would present `vector` to the CPU now: its priority
    /// class is above the processor priority (TPR and the in-service vectors).
    bool accepts(std::uint8_t vector) const;
    /// The CPU takes `vector`: out of the IRR (if there), into the ISR.
    void accept(std::uint8_t vector);

    /// When the running timer fires next, if it runs.
    std::optional<Clock::time_point> timer_deadline() const { return deadline_; }
    /// Fires the timer if its deadline passed: the LVT vector into the IRR
    /// (unless masked); a periodic timer starts its next period.
    void poll_timer(Clock::time_point now);

private:
    static constexpr std::uint32_t kSvrEnable = 1u << 8;
    static constexpr std::uint32_t kLvtMask = 1u << 16;

    static bool test(const std::array<std::uint32_t, 8>& bits, unsigned vector) {
        return (bits[vector / 32] >> (vector % 32) & 1u) != 0;
    }
    static std::optional<std::uint8_t> highest(const std::array<std::uint32_t, 8>& bits);
    void set_irr(std::uint8_t vector);
    std::uint32_t ppr() const;
    /// Nanoseconds per count with the current divide configuration.
    std::uint64_t tick_ns() const;
    void start_timer(Clock::time_point now);

    std::uint32_t id_;
    std::uint32_t tpr_ = 0;
    std::uint32_t svr_ = 0xff;  // reset: vector 0xff, software disabled
    std::uint32_t ldr_ = 0;
    std::uint32_t dfr_ = 0xffffffff;
    std::uint32_t icr_low_ = 0;
    std::uint32_t icr_high_ = 0;
    std::array<std::uint32_t, 7> lvt_{0x10000, 0x10000, 0x10000, 0x10000, 0x10000, 0x10000, 0x10000};
    std::uint32_t divide_ = 0;  // divide configuration register (bits 0, 1, 3)
    std::uint32_t initial_count_ = 0;
    std::array<std::uint32_t, 8> irr_{};
    std::array<std::uint32_t, 8> isr_{};
    unsigned irr_count_ = 0;
    std::optional<Clock::time_point> deadline_;  // the timer runs
    std::chrono::nanoseconds period_{0};
};

}  // namespace guestmem::emu
