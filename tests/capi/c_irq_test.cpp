// SPDX-License-Identifier: BSD-2-Clause
// libsel4vm's guest_irq_controller.h on the sim backend, the test playing
// the guest with vm_sim_take_irq and vm_sim_end_irq; and what every call
// refuses. Delivery to running guests: tests/emu.
#include <gtest/gtest.h>

#include <vector>

#include "capi_support.hpp"
#include "sel4vm/guest_irq_controller.h"
#include "sel4vm/guestmem.h"

namespace guestmem::test {
namespace {

struct Acks {
    std::vector<std::pair<vm_vcpu_t*, int>> seen;
    int inject_again = 0;  // times the callback injects its line again
};

void record_ack(vm_vcpu_t* vcpu, int irq, void* cookie) {
    auto* acks = static_cast<Acks*>(cookie);
    acks->seen.emplace_back(vcpu, irq);
    if (acks->inject_again > 0) {
        --acks->inject_again;
        EXPECT_EQ(vm_inject_irq(vcpu, irq), 0);
    }
}

TEST(CInterrupts, EdgeAndLevelLinesThroughLibsel4vmsCalls) {
    CVm c;
    Acks acks;
    ASSERT_EQ(vm_create_default_irq_controller(c.vm), 0);
    ASSERT_EQ(vm_register_irq(c.vcpu, 10, record_ack, &acks), 0);
    ASSERT_EQ(vm_register_irq(c.vcpu, 11, record_ack, &acks), 0);
    ASSERT_EQ(vm_inject_irq(c.vcpu, 10), 0);
    ASSERT_EQ(vm_set_irq_level(c.vcpu, 11, 1), 0);
    vm_irq_state_t st{};
    ASSERT_EQ(vm_get_irq_state(c.vm, 11, &st), 0);
    EXPECT_TRUE(st.registered && st.level_high && st.pending && !st.in_service);
    EXPECT_EQ(st.target, 0u);

    int irq = -1;
    ASSERT_EQ(vm_sim_take_irq(c.vcpu, &irq), 0);
    EXPECT_EQ(irq, 10);
    ASSERT_EQ(vm_sim_end_irq(c.vcpu, 10), 0);
    ASSERT_EQ(vm_sim_take_irq(c.vcpu, &irq), 0);
    EXPECT_EQ(irq, 11);
    ASSERT_EQ(vm_sim_end_irq(c.vcpu, 11), 0);
    ASSERT_EQ(vm_sim_take_irq(c.vcpu, &irq), 0);  // level, still high
    EXPECT_EQ(irq, 11);
    ASSERT_EQ(vm_set_irq_level(c.vcpu, 11, 0), 0);
    ASSERT_EQ(vm_sim_end_irq(c.vcpu, 11), 0);
    EXPECT_EQ(vm_sim_take_irq(c.vcpu, &irq), -1);  // nothing pending
    EXPECT_EQ(acks.seen, (std::vector<std::pair<vm_vcpu_t*, int>>{{c.vcpu, 10}, {c.vcpu, 11}, {c.vcpu, 11}}));
    ASSERT_EQ(vm_get_irq_state(c.vm, 11, &st), 0);
    EXPECT_EQ(st.raised, 2u);
    EXPECT_EQ(st.acknowledged, 2u);
}

TEST(CInterrupts, AnAcknowledgeCallbackMayInjectAgainButNotDestroyTheVm) {
    CLogCapture log;
    CVm c;
    Acks acks;
    acks.inject_again = 2;
    ASSERT_EQ(vm_create_default_irq_controller(c.vm), 0);
    ASSERT_EQ(vm_register_irq(c.vcpu, 4, record_ack, &acks), 0);
    ASSERT_EQ(vm_inject_irq(c.vcpu, 4), 0);
    int irq = -1;
    while (vm_sim_take_irq(c.vcpu, &irq) == 0) ASSERT_EQ(vm_sim_end_irq(c.vcpu, irq), 0);
    EXPECT_EQ(acks.seen.size(), 3u);

    ASSERT_EQ(vm_register_irq(
                  c.vcpu, 5, [](vm_vcpu_t* vcpu, int, void*) { vm_destroy(vcpu->vm); }, nullptr),
              0);
    ASSERT_EQ(vm_inject_irq(c.vcpu, 5), 0);
    ASSERT_EQ(vm_sim_take_irq(c.vcpu, &irq), 0);
    ASSERT_EQ(vm_sim_end_irq(c.vcpu, 5), 0);
    EXPECT_TRUE(log.has_error("vm_destroy", "is running (or in a callback)"));
    EXPECT_EQ(vm_inject_irq(c.vcpu, 5), 0);  // the VM lives on
}

TEST(CInterrupts, EveryCallRefusesWhatItMust) {
    CLogCapture log;
    CVm c;
    CVm other;
    vm_vcpu_t forged{};
    int irq = 0;
    vm_irq_state_t st{};
    // Before the controller exists.
    EXPECT_EQ(vm_register_irq(c.vcpu, 1, nullptr, nullptr), -1);
    EXPECT_TRUE(log.has_error("vm_register_irq", "the VM has no interrupt controller"));
    EXPECT_EQ(vm_inject_irq(c.vcpu, 1), -1);
    EXPECT_EQ(vm_get_irq_state(c.vm, 1, &st), -1);
    EXPECT_EQ(vm_sim_take_irq(c.vcpu, &irq), -1);
    ASSERT_EQ(vm_create_default_irq_controller(c.vm), 0);
    EXPECT_EQ(vm_create_default_irq_controller(c.vm), -1);
    EXPECT_TRUE(log.has_error("vm_create_default_irq_controller", "has an interrupt controller already"));

    EXPECT_EQ(vm_register_irq(c.vcpu, -1, nullptr, nullptr), -1);
    EXPECT_TRUE(log.has_error("vm_register_irq", "IRQ -1 is negative"));
    EXPECT_EQ(vm_register_irq(c.vcpu, 1024, nullptr, nullptr), -1);
    EXPECT_TRUE(log.has_error("vm_register_irq", "IRQ 1024 is out of range (0 to 1023)"));
    EXPECT_EQ(vm_inject_irq(c.vcpu, 3), -1);
    EXPECT_TRUE(log.has_error("vm_inject_irq", "IRQ 3 is not registered"));
    EXPECT_EQ(vm_set_irq_level(c.vcpu, 3, 1), -1);
    ASSERT_EQ(vm_register_irq(c.vcpu, 3, nullptr, nullptr), 0);
    EXPECT_EQ(vm_register_irq(c.vcpu, 3, nullptr, nullptr), -1);
    EXPECT_EQ(vm_sim_end_irq(c.vcpu, 3), -1);  // not in service
    EXPECT_EQ(vm_sim_end_irq(c.vcpu, -3), -1);
    EXPECT_EQ(vm_get_irq_state(c.vm, 5000, &st), -1);
    EXPECT_EQ(vm_get_irq_state(c.vm, 3, nullptr), -1);
    EXPECT_EQ(vm_sim_take_irq(c.vcpu, nullptr), -1);
    for (vm_vcpu_t* vcpu : {static_cast<vm_vcpu_t*>(nullptr), &forged}) {
        EXPECT_EQ(vm_register_irq(vcpu, 1, nullptr, nullptr), -1);
        EXPECT_EQ(vm_inject_irq(vcpu, 3), -1);
        EXPECT_EQ(vm_set_irq_level(vcpu, 3, 1), -1);
        EXPECT_EQ(vm_sim_take_irq(vcpu, &irq), -1);
        EXPECT_EQ(vm_sim_end_irq(vcpu, 3), -1);
    }
    EXPECT_EQ(vm_create_default_irq_controller(nullptr), -1);
    EXPECT_EQ(vm_inject_irq(other.vcpu, 3), -1);  // the other VM has no controller
    ASSERT_EQ(vm_get_irq_state(c.vm, 3, &st), 0);
    EXPECT_TRUE(st.registered);
    EXPECT_FALSE(st.pending);  // nothing the refused calls asked for happened
    EXPECT_EQ(st.raised, 0u);
}

#if defined(GUESTMEM_TEST_HAS_EMU)
TEST(CInterrupts, ABackendThatCannotDeliverRefusesTheControllerAndSaysWhich) {
    CLogCapture log;
    vm_t* vm = vm_create_arch(VM_BACKEND_EMU, VM_ARCH_AARCH64);
    ASSERT_NE(vm, nullptr);
    EXPECT_EQ(vm_create_default_irq_controller(vm), -1);
    EXPECT_TRUE(log.has_error("vm_create_default_irq_controller", "the emu backend does not deliver interrupts"));
    vm_destroy(vm);
}
#endif

}  // namespace
}  // namespace guestmem::test
