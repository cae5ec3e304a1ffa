// SPDX-License-Identifier: BSD-2-Clause
// The emu backend's x86 local APIC and I/O APIC models by themselves
// (src/emu/x86_local_apic.cpp and x86_io_apic.cpp, compiled into this test).
#include <gtest/gtest.h>

#include "x86_io_apic.hpp"
#include "x86_local_apic.hpp"

namespace guestmem::emu::test {
namespace {

using namespace std::chrono_literals;
using Clock = LocalApic::Clock;

constexpr std::uint64_t kTpr = 0x80, kPpr = 0xa0, kEoi = 0xb0, kSvr = 0xf0, kIsr = 0x100, kIrr = 0x200;
constexpr std::uint64_t kLvtTimer = 0x320, kInitial = 0x380, kCurrent = 0x390, kDivide = 0x3e0;

LocalApic enabled_apic(Clock::time_point now) {
    LocalApic apic(3);
    apic.write(kSvr, 4, 0x1ff, now);
    return apic;
}

TEST(LocalApicModel, IdVersionAndResetState) {
    const auto now = Clock::now();
    LocalApic apic(3);
    EXPECT_EQ(apic.read(0x20, 4, now), 3u << 24);
    EXPECT_EQ(apic.read(0x30, 4, now), 0x00060014u);
    EXPECT_EQ(apic.read(kSvr, 4, now), 0xffu);
    EXPECT_FALSE(apic.enabled());
    EXPECT_EQ(apic.read(kLvtTimer, 4, now), 0x10000u);  // masked
    EXPECT_EQ(apic.read(kSvr, 2, now), 0u);             // not a 4-byte access
}

TEST(LocalApicModel, TprAndInServiceVectorsGateDelivery) {
    const auto now = Clock::now();
    LocalApic apic = enabled_apic(now);
    EXPECT_TRUE(apic.accepts(0x40));
    apic.write(kTpr, 4, 0x40, now);
    EXPECT_FALSE(apic.accepts(0x45));  // same class as the TPR
    EXPECT_TRUE(apic.accepts(0x50));
    apic.write(kTpr, 4, 0, now);
    apic.accept(0x60);
    EXPECT_EQ(apic.read(kIsr + 0x30, 4, now), 1u);  // vector 0x60: bit 0 of ISR word 3
    EXPECT_EQ(apic.read(kPpr, 4, now), 0x60u);
    EXPECT_FALSE(apic.accepts(0x50));
    EXPECT_TRUE(apic.accepts(0x70));
    apic.accept(0x70);
    // EOI ends the highest in service first.
    EXPECT_EQ(apic.write(kEoi, 4, 0, now), std::optional<std::uint8_t>(0x70));
    EXPECT_EQ(apic.write(kEoi, 4, 0, now), std::optional<std::uint8_t>(0x60));
    EXPECT_EQ(apic.write(kEoi, 4, 0, now), std::nullopt);
    EXPECT_TRUE(apic.accepts(0x20));
}

TEST(LocalApicModel, OneShotTimerFiresOnceWithTheDivider) {
    const auto t0 = Clock::now();
    LocalApic apic = enabled_apic(t0);
    apic.write(kDivide, 4, 0x1, t0);  // divide by 4
    apic.write(kLvtTimer, 4, 0x30, t0);
    apic.write(kInitial, 4, 1000, t0);  // 4 us
    ASSERT_TRUE(apic.timer_deadline());
    EXPECT_EQ(*apic.timer_deadline() - t0, 4000ns);
    EXPECT_EQ(apic.read(kCurrent, 4, t0 + 2000ns), 500u);
    apic.poll_timer(t0 + 3999ns);
    EXPECT_FALSE(apic.irr_pending());
    apic.poll_timer(t0 + 4000ns);
    EXPECT_EQ(apic.highest_irr(), std::optional<std::uint8_t>(0x30));
    EXPECT_EQ(apic.read(kIrr + 0x10, 4, t0), 1u << 16);  // vector 0x30
    EXPECT_FALSE(apic.timer_deadline());                 // one-shot: done
    EXPECT_EQ(apic.read(kCurrent, 4, t0 + 5000ns), 0u);
}

TEST(LocalApicModel, PeriodicTimerCoalescesMissedPeriods) {
    const auto t0 = Clock::now();
    LocalApic apic = enabled_apic(t0);
    apic.write(kDivide, 4, 0xb, t0);  // divide by 1
    apic.write(kLvtTimer, 4, 0x40 | (1u << 17), t0);
    apic.write(kInitial, 4, 100, t0);
    apic.poll_timer(t0 + 350ns);  // three periods late: one request
    EXPECT_EQ(apic.highest_irr(), std::optional<std::uint8_t>(0x40));
    ASSERT_TRUE(apic.timer_deadline());
    EXPECT_EQ(*apic.timer_deadline() - t0, 400ns);
    apic.write(kInitial, 4, 0, t0);  // stops it
    EXPECT_FALSE(apic.timer_deadline());
}

TEST(LocalApicModel, MaskedOrDisabledTimerRequestsNothing) {
    const auto t0 = Clock::now();
    LocalApic apic = enabled_apic(t0);
    apic.write(kLvtTimer, 4, 0x40 | (1u << 16), t0);
    apic.write(kInitial, 4, 10, t0);
    apic.poll_timer(t0 + 1ms);
    EXPECT_FALSE(apic.irr_pending());
    // Software disable masks the LVT entries, and keeps them masked.
    apic.write(kSvr, 4, 0xff, t0);
    apic.write(kLvtTimer, 4, 0x40, t0);
    EXPECT_EQ(apic.read(kLvtTimer, 4, t0) & (1u << 16), 1u << 16);
}

TEST(IoApicModel, RegistersAndRoutes) {
    IoApic ioapic;
    auto reg = [&](std::uint32_t index) {
        ioapic.write(0x00, 4, index);
        return ioapic.read(0x10, 4);
    };
    auto set = [&](std::uint32_t index, std::uint32_t value) {
        ioapic.write(0x00, 4, index);
        ioapic.write(0x10, 4, value);
    };
    EXPECT_EQ(reg(0x01), 0x00170011u);  // version 0x11, 24 entries
    set(0x00, 0x05000000);
    EXPECT_EQ(reg(0x00), 0x05000000u);
    EXPECT_TRUE(ioapic.route(7).masked);  // reset
    set(0x10 + 2 * 7, 0x0000a031);        // vector 0x31, level, unmasked, remote IRR bit ignored
    set(0x11 + 2 * 7, 0x02000000);        // destination 2
    const IoApic::Route route = ioapic.route(7);
    EXPECT_EQ(route.vector, 0x31);
    EXPECT_FALSE(route.masked);
    EXPECT_TRUE(route.level);
    EXPECT_EQ(route.destination, 2);
    EXPECT_EQ(reg(0x10 + 2 * 7), 0x0000a031u & ~(1u << 14));
    set(0x10 + 2 * 7, 0x00010031);  // masked
    EXPECT_TRUE(ioapic.route(7).masked);
    EXPECT_EQ(reg(0x10 + 2 * 24), 0u);  // no 25th entry
}

}  // namespace
}  // namespace guestmem::emu::test
