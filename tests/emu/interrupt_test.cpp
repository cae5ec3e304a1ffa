// SPDX-License-Identifier: BSD-2-Clause
// Interrupts on the emulator's x86-64 guests: the VM's InterruptController
// lines reach guest IDT handlers through the modelled I/O APIC and local
// APIC (guests irq_*.S, which share guests/x86_64/irq_common.inc).
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <future>
#include <thread>

#include "emu_test_support.hpp"
#include "guestmem/guest_memory.hpp"

namespace guestmem::emu::test {
namespace {

using namespace std::chrono_literals;

constexpr GuestAddr kScratch = kData;  // the guests' scratch RAM (irq_common.inc)
constexpr IrqNumber kPin = 5;

std::uint64_t scratch(EmuVm& emu, GuestAddr offset) {
    auto value = read_guest_value<std::uint64_t>(*emu.vm, kScratch + offset);
    return value ? *value : ~std::uint64_t{0};
}

/// An x86-64 emu VM with an interrupt controller and line kPin registered,
/// counting its acknowledgements and the threads they ran on.
struct IrqVm {
    EmuVm emu{Arch::x86_64};
    InterruptController* irqs = nullptr;
    std::atomic<int> acks{0};
    std::atomic<bool> ack_on_other_thread{false};
    std::thread::id vcpu_thread;
    std::function<void(int)> on_ack;  // called with the ack count

    IrqVm() {
        auto created = emu.vm->create_default_irq_controller();
        if (!created) throw std::runtime_error(created.error().message);
        irqs = *created;
        auto registered = irqs->register_irq(*emu.vcpu, kPin, [this](Vcpu&, IrqNumber) {
            if (std::this_thread::get_id() != vcpu_thread) ack_on_other_thread = true;
            const int n = ++acks;
            if (on_ack) on_ack(n);
        });
        if (!registered) throw std::runtime_error(registered.error().message);
    }
    Result<RunResult> run() {
        vcpu_thread = std::this_thread::get_id();
        return emu.vcpu->run();
    }
};

TEST(EmuInterrupts, Arm64VmsRefuseAController) {
    EmuVm emu(Arch::aarch64);
    auto created = emu.vm->create_default_irq_controller();
    ASSERT_FALSE(created);
    EXPECT_EQ(created.code(), Errc::unsupported);
    EXPECT_NE(created.error().message.find("the emu backend does not deliver interrupts to AArch64 guests yet"),
              std::string::npos)
        << created.error().message;
}

TEST(EmuInterrupts, ApicPagesCollidingWithAReservationAreRefused) {
    EmuVm emu(Arch::x86_64);
    ASSERT_TRUE(emu.vm->reserve_at(0xfec00000, 0x1000, ignoring()));
    auto created = emu.vm->create_default_irq_controller();
    ASSERT_FALSE(created);
    EXPECT_NE(created.error().message.find("I/O APIC"), std::string::npos) << created.error().message;
    EXPECT_EQ(emu.vm->irq_controller(), nullptr);
    // Nothing stayed reserved: a later attempt after freeing works.
    EmuVm other(Arch::x86_64);
    ASSERT_TRUE(other.vm->create_default_irq_controller());
    auto reserved = other.vm->reserve_at(0xfee00000, 0x1000, ignoring());
    EXPECT_FALSE(reserved);  // the local APIC's page is taken
}

TEST(EmuInterrupts, ApicRegistersReadBack) {
    // The guest is the test here: the reservations answer through Vm::dispatch.
    IrqVm vm;
    Access version{0xfec00000, 4, true, 0x01};
    ASSERT_TRUE(vm.emu.vm->dispatch(*vm.emu.vcpu, version));
    Access window{0xfec00010, 4, false, 0};
    ASSERT_TRUE(vm.emu.vm->dispatch(*vm.emu.vcpu, window));
    EXPECT_EQ(window.data, 0x00170011u);  // 24 entries
    Access lapic_version{0xfee00030, 4, false, 0};
    ASSERT_TRUE(vm.emu.vm->dispatch(*vm.emu.vcpu, lapic_version));
    EXPECT_EQ(lapic_version.data & 0xff, 0x14u);
    Access svr{0xfee000f0, 4, false, 0};
    ASSERT_TRUE(vm.emu.vm->dispatch(*vm.emu.vcpu, svr));
    EXPECT_EQ(svr.data, 0xffu);  // software disabled after reset
}

TEST(EmuInterrupts, EdgeInterruptReachesTheHandlerWhichEois) {
    IrqVm vm;
    EMU_LOAD_OR_SKIP(vm.emu, "irq_edge");
    ASSERT_TRUE(vm.irqs->inject(*vm.emu.vcpu, kPin));
    vm.emu.start(*vm.emu.vcpu, kCode, {kScratch, kPin, 1});
    auto result = vm.run();
    ASSERT_TRUE(result);
    EXPECT_TRUE(result->halted()) << result->message;
    EXPECT_EQ(vm.emu.result(*vm.emu.vcpu), 1u);
    EXPECT_EQ(vm.acks, 1);
    EXPECT_FALSE(vm.ack_on_other_thread);
    auto state = vm.irqs->state(kPin);
    ASSERT_TRUE(state);
    EXPECT_FALSE(state->pending);
    EXPECT_FALSE(state->in_service);
    EXPECT_EQ(state->acknowledged, 1u);
}

TEST(EmuInterrupts, LevelLineIsDeliveredAgainWhileHighOnly) {
    IrqVm vm;
    EMU_LOAD_OR_SKIP(vm.emu, "irq_edge");
    // The device lowers the line at the third end of interrupt.
    vm.on_ack = [&](int n) {
        if (n == 3) {
            EXPECT_TRUE(vm.irqs->set_level(*vm.emu.vcpu, kPin, false));
        }
    };
    ASSERT_TRUE(vm.irqs->set_level(*vm.emu.vcpu, kPin, true));
    vm.emu.start(*vm.emu.vcpu, kCode, {kScratch, kPin, 3});
    auto result = vm.run();
    ASSERT_TRUE(result);
    EXPECT_TRUE(result->halted()) << result->message;
    // The guest spun with IF=1 after the third: no fourth.
    EXPECT_EQ(vm.emu.result(*vm.emu.vcpu), 3u);
    EXPECT_EQ(vm.acks, 3);
    EXPECT_FALSE(vm.irqs->state(kPin)->pending);
}

TEST(EmuInterrupts, MaskedPinWaitsUntilUnmasked) {
    IrqVm vm;
    EMU_LOAD_OR_SKIP(vm.emu, "irq_masked");
    ASSERT_TRUE(vm.irqs->inject(*vm.emu.vcpu, kPin));
    vm.emu.start(*vm.emu.vcpu, kCode, {kScratch, kPin, 1});
    auto result = vm.run();
    ASSERT_TRUE(result);
    EXPECT_TRUE(result->halted()) << result->message;
    EXPECT_EQ(scratch(vm.emu, 0x08), 0u);  // nothing while masked
    EXPECT_EQ(vm.emu.result(*vm.emu.vcpu), 1u);
    EXPECT_EQ(vm.acks, 1);
}

TEST(EmuInterrupts, InterruptFlagClearDefersDeliveryUntilSti) {
    IrqVm vm;
    EMU_LOAD_OR_SKIP(vm.emu, "irq_cli");
    ASSERT_TRUE(vm.irqs->inject(*vm.emu.vcpu, kPin));
    vm.emu.start(*vm.emu.vcpu, kCode, {kScratch, kPin, 1});
    auto result = vm.run();
    ASSERT_TRUE(result);
    EXPECT_TRUE(result->halted()) << result->message;
    EXPECT_EQ(scratch(vm.emu, 0x08), 0u);  // nothing while IF=0
    EXPECT_EQ(vm.emu.result(*vm.emu.vcpu), 1u);
}

TEST(EmuInterrupts, InterruptFromAnotherThreadReachesARunningGuest) {
    IrqVm vm;
    EMU_LOAD_OR_SKIP(vm.emu, "irq_edge");
    vm.emu.start(*vm.emu.vcpu, kCode, {kScratch, kPin, 2});
    auto run = std::async(std::launch::async, [&] { return vm.run(); });
    std::this_thread::sleep_for(20ms);
    ASSERT_TRUE(vm.irqs->inject(*vm.emu.vcpu, kPin));
    while (vm.acks < 1 && run.wait_for(1ms) != std::future_status::ready) {
    }
    ASSERT_TRUE(vm.irqs->inject(*vm.emu.vcpu, kPin));
    ASSERT_EQ(run.wait_for(10s), std::future_status::ready);
    auto result = run.get();
    ASSERT_TRUE(result);
    EXPECT_TRUE(result->halted()) << result->message;
    EXPECT_EQ(vm.emu.result(*vm.emu.vcpu), 2u);
}

TEST(EmuInterrupts, HltSleepsUntilAnInterruptFromAnotherThread) {
    IrqVm vm;
    EMU_LOAD_OR_SKIP(vm.emu, "irq_hlt");
    vm.emu.start(*vm.emu.vcpu, kCode, {kScratch, kPin, 2});
    auto run = std::async(std::launch::async, [&] { return vm.run(); });
    // Asleep in HLT: the run does not end.
    EXPECT_EQ(run.wait_for(50ms), std::future_status::timeout);
    ASSERT_TRUE(vm.irqs->inject(*vm.emu.vcpu, kPin));
    for (int i = 0; i < 10000 && vm.acks < 1; ++i) std::this_thread::sleep_for(1ms);
    EXPECT_EQ(vm.acks, 1);
    EXPECT_EQ(run.wait_for(50ms), std::future_status::timeout);
    ASSERT_TRUE(vm.irqs->inject(*vm.emu.vcpu, kPin));
    ASSERT_EQ(run.wait_for(10s), std::future_status::ready);
    auto result = run.get();
    ASSERT_TRUE(result);
    EXPECT_TRUE(result->halted()) << result->message;
    EXPECT_EQ(vm.emu.result(*vm.emu.vcpu), 2u);
}

TEST(EmuInterrupts, StopRequestEndsASleepingRunAtTheHlt) {
    IrqVm vm;
    EMU_LOAD_OR_SKIP(vm.emu, "irq_hlt");
    vm.emu.start(*vm.emu.vcpu, kCode, {kScratch, kPin, 1});
    auto run = std::async(std::launch::async, [&] { return vm.run(); });
    EXPECT_EQ(run.wait_for(50ms), std::future_status::timeout);
    const auto asked = std::chrono::steady_clock::now();
    vm.emu.vcpu->request_stop();
    ASSERT_EQ(run.wait_for(5s), std::future_status::ready);
    EXPECT_LT(std::chrono::steady_clock::now() - asked, 1s);
    auto stopped = run.get();
    ASSERT_TRUE(stopped);
    EXPECT_EQ(stopped->reason, StopReason::stopped) << stopped->message;
    // The next run halts again at the same HLT, until the interrupt.
    std::uint8_t opcode = 0;
    ASSERT_TRUE(read_guest(*vm.emu.vm, stopped->ip, std::as_writable_bytes(std::span(&opcode, 1))));
    EXPECT_EQ(opcode, 0xf4);
    auto again = std::async(std::launch::async, [&] { return vm.run(); });
    EXPECT_EQ(again.wait_for(50ms), std::future_status::timeout);
    ASSERT_TRUE(vm.irqs->inject(*vm.emu.vcpu, kPin));
    ASSERT_EQ(again.wait_for(10s), std::future_status::ready);
    auto result = again.get();
    ASSERT_TRUE(result);
    EXPECT_TRUE(result->halted()) << result->message;
    EXPECT_EQ(vm.emu.result(*vm.emu.vcpu), 1u);
}

TEST(EmuInterrupts, LapicTimerPeriodicInterruptsAreCounted) {
    IrqVm vm;
    EMU_LOAD_OR_SKIP(vm.emu, "irq_timer");
    constexpr std::uint64_t kPeriodNs = 2'000'000;  // 2 ms at 1 GHz, divide by 1
    vm.emu.start(*vm.emu.vcpu, kCode, {kScratch, kPeriodNs, 5});
    const auto began = std::chrono::steady_clock::now();
    auto result = vm.run();
    const auto took = std::chrono::steady_clock::now() - began;
    ASSERT_TRUE(result);
    EXPECT_TRUE(result->halted()) << result->message;
    EXPECT_EQ(vm.emu.result(*vm.emu.vcpu), 5u);
    EXPECT_GE(took, 10ms);
    EXPECT_EQ(scratch(vm.emu, 0x08), 0u);  // stopped: current count 0
    EXPECT_EQ(vm.acks, 0);                 // the timer is not a line
}

TEST(EmuInterrupts, InjectionFromAFaultCallback) {
    IrqVm vm;
    EMU_LOAD_OR_SKIP(vm.emu, "irq_fault");
    std::atomic<int> faults{0};
    ASSERT_TRUE(vm.emu.vm->reserve_at(kDevice, 0x1000, [&](Fault& fault) {
        ++faults;
        EXPECT_TRUE(vm.irqs->inject(fault.vcpu(), kPin));
        return FaultResult::handled;
    }));
    vm.emu.start(*vm.emu.vcpu, kCode, {kScratch, kPin, kDevice});
    auto result = vm.run();
    ASSERT_TRUE(result);
    EXPECT_TRUE(result->halted()) << result->message;
    EXPECT_EQ(faults, 1);
    EXPECT_EQ(vm.emu.result(*vm.emu.vcpu), 1u);
    EXPECT_EQ(vm.acks, 1);
}

TEST(EmuInterrupts, InterruptWithoutAnIdtStopsWithAnException) {
    IrqVm vm;
    EMU_LOAD_OR_SKIP(vm.emu, "irq_noidt");
    ASSERT_TRUE(vm.irqs->inject(*vm.emu.vcpu, kPin));
    vm.emu.start(*vm.emu.vcpu, kCode, {kScratch, kPin, 0});
    auto result = vm.run();
    ASSERT_TRUE(result);
    EXPECT_EQ(result->reason, StopReason::exception);
    EXPECT_NE(result->message.find("interrupt vector 64 cannot be delivered"), std::string::npos) << result->message;
}

TEST(EmuInterrupts, ExistingGuestsWithoutApicUseBehaveAsBefore) {
    IrqVm vm;  // a controller, but the guest never enables IF
    EMU_LOAD_OR_SKIP(vm.emu, "ports");
    ASSERT_TRUE(vm.emu.vcpu->set_port_io_handler([](PortAccess&) { return PortResult::handled; }));
    ASSERT_TRUE(vm.irqs->inject(*vm.emu.vcpu, kPin));
    vm.emu.start(*vm.emu.vcpu, kCode, {0, 0, 0});
    auto result = vm.run();
    ASSERT_TRUE(result);
    EXPECT_TRUE(result->halted()) << result->message;
    EXPECT_TRUE(vm.irqs->state(kPin)->pending);
}

}  // namespace
}  // namespace guestmem::emu::test
