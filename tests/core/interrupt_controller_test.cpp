// SPDX-License-Identifier: BSD-2-Clause
// A VM's interrupt lines (guestmem/interrupts.hpp) on the sim backend, where
// the test plays the guest with sim::take_interrupt and sim::end_of_interrupt:
// edge and level semantics, acknowledge handlers, ordering, refusals, and
// injection from many threads at once.
#include <gtest/gtest.h>

#include <atomic>
#include <memory>
#include <thread>
#include <vector>

#include "guestmem/interrupts.hpp"
#include "guestmem/sim.hpp"
#include "guestmem/vm.hpp"

namespace guestmem::test {
namespace {

struct SimIrqVm {
    std::unique_ptr<Vm> vm = Vm::create(BackendKind::sim, std::make_shared<CapabilitySpace>()).value();
    Vcpu& vcpu = *vm->create_vcpu().value();
    InterruptController& irqs = *vm->create_default_irq_controller().value();
};

TEST(InterruptLines, AnEdgeIsDeliveredOnceAndItsEndRunsTheAckHandler) {
    SimIrqVm s;
    std::vector<IrqNumber> acked;
    ASSERT_TRUE(s.irqs.register_irq(s.vcpu, 7, [&](Vcpu& v, IrqNumber irq) {
        EXPECT_EQ(&v, &s.vcpu);
        acked.push_back(irq);
    }));
    EXPECT_FALSE(s.irqs.has_pending(s.vcpu));
    ASSERT_TRUE(s.irqs.inject(s.vcpu, 7));
    ASSERT_TRUE(s.irqs.inject(s.vcpu, 7));  // raising a pending line again changes nothing
    EXPECT_TRUE(s.irqs.has_pending(s.vcpu));
    EXPECT_EQ(s.irqs.pending(s.vcpu), std::vector<IrqNumber>{7});
    EXPECT_EQ(*sim::take_interrupt(s.vcpu), 7u);
    EXPECT_FALSE(s.irqs.has_pending(s.vcpu));
    EXPECT_TRUE(s.irqs.state(7)->in_service);
    EXPECT_TRUE(acked.empty());
    ASSERT_TRUE(sim::end_of_interrupt(s.vcpu, 7));
    EXPECT_EQ(acked, std::vector<IrqNumber>{7});
    EXPECT_FALSE(s.irqs.has_pending(s.vcpu));  // an edge is not delivered again
    const IrqLineState st = *s.irqs.state(7);
    EXPECT_EQ(st.raised, 1u);
    EXPECT_EQ(st.acknowledged, 1u);
    EXPECT_FALSE(st.in_service);
    EXPECT_FALSE(sim::take_interrupt(s.vcpu));  // nothing pending
}

TEST(InterruptLines, ALevelLineIsDeliveredAgainAfterEachEndWhileHigh) {
    SimIrqVm s;
    int acks = 0;
    ASSERT_TRUE(s.irqs.register_irq(s.vcpu, 3, [&](Vcpu&, IrqNumber) { ++acks; }));
    ASSERT_TRUE(s.irqs.set_level(s.vcpu, 3, true));
    for (int round = 0; round < 3; ++round) {
        ASSERT_EQ(*sim::take_interrupt(s.vcpu), 3u) << round;
        EXPECT_FALSE(s.irqs.has_pending(s.vcpu));  // in service: not delivered again yet
        ASSERT_TRUE(sim::end_of_interrupt(s.vcpu, 3));
        EXPECT_TRUE(s.irqs.has_pending(s.vcpu)) << "still high: pending again";
    }
    EXPECT_EQ(acks, 3);
    ASSERT_TRUE(s.irqs.set_level(s.vcpu, 3, false));  // lowered before the guest took it: withdrawn
    EXPECT_FALSE(s.irqs.has_pending(s.vcpu));
    EXPECT_EQ(s.irqs.state(3)->raised, 4u);
}

TEST(InterruptLines, ALevelLineLoweredWhileInServiceIsNotDeliveredAgain) {
    SimIrqVm s;
    ASSERT_TRUE(s.irqs.register_irq(s.vcpu, 3, {}));
    ASSERT_TRUE(s.irqs.set_level(s.vcpu, 3, true));
    ASSERT_EQ(*sim::take_interrupt(s.vcpu), 3u);
    ASSERT_TRUE(s.irqs.set_level(s.vcpu, 3, false));
    ASSERT_TRUE(sim::end_of_interrupt(s.vcpu, 3));
    EXPECT_FALSE(s.irqs.has_pending(s.vcpu));
}

TEST(InterruptLines, TheLowestPendingLineIsTakenFirst) {
    SimIrqVm s;
    for (IrqNumber irq : {40u, 2u, 900u}) ASSERT_TRUE(s.irqs.register_irq(s.vcpu, irq, {}));
    for (IrqNumber irq : {900u, 40u, 2u}) ASSERT_TRUE(s.irqs.inject(s.vcpu, irq));
    EXPECT_EQ(s.irqs.pending(s.vcpu), (std::vector<IrqNumber>{2, 40, 900}));
    EXPECT_EQ(*sim::take_interrupt(s.vcpu), 2u);
    EXPECT_EQ(*sim::take_interrupt(s.vcpu), 40u);  // nested: 2 is still in service
    EXPECT_EQ(*sim::take_interrupt(s.vcpu), 900u);
}

TEST(InterruptLines, AnInterruptGoesToTheVcpuItsLineWasRegisteredFor) {
    SimIrqVm s;
    Vcpu& other = *s.vm->create_vcpu().value();
    ASSERT_TRUE(s.irqs.register_irq(other, 9, {}));
    ASSERT_TRUE(s.irqs.inject(s.vcpu, 9));  // through any vCPU of the VM
    EXPECT_FALSE(s.irqs.has_pending(s.vcpu));
    EXPECT_TRUE(s.irqs.has_pending(other));
    EXPECT_EQ(s.irqs.state(9)->target, other.index());
    EXPECT_FALSE(sim::take_interrupt(s.vcpu));
    EXPECT_EQ(*sim::take_interrupt(other), 9u);
    EXPECT_FALSE(sim::end_of_interrupt(s.vcpu, 9));  // in service on the other vCPU
    EXPECT_TRUE(sim::end_of_interrupt(other, 9));
}

TEST(InterruptLines, AnAckHandlerMayInjectAgain) {
    SimIrqVm s;
    int acks = 0;
    ASSERT_TRUE(s.irqs.register_irq(s.vcpu, 1, [&](Vcpu& v, IrqNumber irq) {
        if (++acks < 3) {
            ASSERT_TRUE(s.irqs.inject(v, irq));
        }
    }));
    ASSERT_TRUE(s.irqs.inject(s.vcpu, 1));
    while (auto irq = sim::take_interrupt(s.vcpu)) {
        ASSERT_TRUE(sim::end_of_interrupt(s.vcpu, *irq));
    }
    EXPECT_EQ(acks, 3);
    EXPECT_EQ(s.irqs.state(1)->raised, 3u);
}

TEST(InterruptLines, BadLinesAndVcpusAreRefusedAndChangeNothing) {
    SimIrqVm s;
    SimIrqVm other;
    EXPECT_EQ(s.irqs.register_irq(s.vcpu, InterruptController::kMaxIrqs, {}).error().code, Errc::invalid_argument);
    EXPECT_EQ(s.irqs.inject(s.vcpu, 5).error().code, Errc::invalid_argument);  // not registered
    EXPECT_EQ(s.irqs.set_level(s.vcpu, 5, true).error().code, Errc::invalid_argument);
    ASSERT_TRUE(s.irqs.register_irq(s.vcpu, 5, {}));
    const auto again = s.irqs.register_irq(s.vcpu, 5, {});
    ASSERT_FALSE(again);
    EXPECT_NE(again.error().message.find("registered already"), std::string::npos);
    EXPECT_FALSE(s.irqs.inject(other.vcpu, 5));  // a vCPU of another VM
    EXPECT_FALSE(s.irqs.register_irq(other.vcpu, 6, {}));
    EXPECT_FALSE(s.irqs.take(s.vcpu, 5));  // not pending
    EXPECT_FALSE(s.irqs.end(s.vcpu, 5));   // not in service
    EXPECT_FALSE(s.irqs.state(InterruptController::kMaxIrqs));
    EXPECT_EQ(*s.irqs.state(5), (IrqLineState{true, 0, false, false, false, 0, 0}));
    EXPECT_FALSE(s.irqs.state(6)->registered);
}

TEST(InterruptLines, AVmHasOneControllerAndOnlyOnABackendThatDelivers) {
    SimIrqVm s;
    const auto again = s.vm->create_default_irq_controller();
    ASSERT_FALSE(again);
    EXPECT_EQ(again.error().code, Errc::already_initialized);
    EXPECT_EQ(s.vm->irq_controller(), &s.irqs);
    auto plain = Vm::create(BackendKind::sim, std::make_shared<CapabilitySpace>()).value();
    EXPECT_EQ(plain->irq_controller(), nullptr);
    Vcpu& vcpu = *plain->create_vcpu().value();
    EXPECT_EQ(sim::take_interrupt(vcpu).error().code, Errc::not_initialized);
}

TEST(InterruptLines, LinesRaisedFromManyThreadsAreEachDeliveredAndEnded) {
    SimIrqVm s;
    constexpr IrqNumber kLines = 8;
    constexpr int kRounds = 2000;
    std::atomic<int> acks{0};
    for (IrqNumber irq = 0; irq < kLines; ++irq) {
        ASSERT_TRUE(s.irqs.register_irq(s.vcpu, irq, [&](Vcpu&, IrqNumber) { acks.fetch_add(1); }));
    }
    std::atomic<bool> done{false};
    std::vector<std::thread> devices;
    for (IrqNumber irq = 0; irq < kLines; ++irq) {
        devices.emplace_back([&, irq] {
            for (int i = 0; i < kRounds; ++i) {
                const auto ok = irq % 2 ? s.irqs.inject(s.vcpu, irq) : s.irqs.set_level(s.vcpu, irq, i % 2 == 0);
                EXPECT_TRUE(ok);
            }
        });
    }
    int ended = 0;
    std::thread guest([&] {
        while (!done.load() || s.irqs.has_pending(s.vcpu)) {
            if (auto irq = sim::take_interrupt(s.vcpu)) {
                EXPECT_TRUE(sim::end_of_interrupt(s.vcpu, *irq));
                ++ended;
            }
        }
    });
    for (auto& t : devices) t.join();
    for (IrqNumber irq = 0; irq < kLines; irq += 2) ASSERT_TRUE(s.irqs.set_level(s.vcpu, irq, false));
    done = true;
    guest.join();
    EXPECT_EQ(acks.load(), ended);
    std::uint64_t raised = 0, acknowledged = 0;
    for (IrqNumber irq = 0; irq < kLines; ++irq) {
        const IrqLineState st = *s.irqs.state(irq);
        EXPECT_FALSE(st.pending || st.in_service) << irq;
        raised += st.raised;
        acknowledged += st.acknowledged;
    }
    EXPECT_EQ(acknowledged, static_cast<std::uint64_t>(ended));
    EXPECT_LE(acknowledged, raised);  // withdrawn level interrupts were raised, never taken
    EXPECT_GT(ended, 0);
}

}  // namespace
}  // namespace guestmem::test
