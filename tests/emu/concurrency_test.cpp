// SPDX-License-Identifier: BSD-2-Clause
// The emulator and other threads: stops and frees while a vCPU runs guest code.
#include <gtest/gtest.h>

#include <atomic>
#include <future>
#include <thread>

#include "emu_test_support.hpp"
#include "guestmem/guest_memory.hpp"

namespace guestmem::emu::test {
namespace {

class EmuConcurrency : public ::testing::TestWithParam<Arch> {};

constexpr GuestAddr kSpinRam = 0x600000;

TEST_P(EmuConcurrency, RequestStopFromAnotherThreadEndsTheRun) {
    EmuVm emu(GetParam());
    EMU_LOAD_OR_SKIP(emu, "spin");
    std::atomic<std::uint64_t> reads{0};
    ASSERT_TRUE(emu.vm->reserve_at(kDevice, 0x1000, [&](Fault&) {
        reads.fetch_add(1);
        return FaultResult::ignore;
    }));
    for (int round = 0; round < 3; ++round) {
        emu.start(*emu.vcpu, kCode, {kDevice, kData, 0});
        const std::uint64_t before = reads.load();
        auto run = std::async(std::launch::async, [&] { return emu.vcpu->run(); });
        while (reads.load() < before + 100) std::this_thread::yield();  // the guest is running
        emu.vcpu->request_stop();
        auto result = run.get();
        ASSERT_TRUE(result);
        EXPECT_EQ(result->reason, StopReason::stopped) << result->message;
    }
}

TEST_P(EmuConcurrency, StopRequestedBeforeTheRunEndsTheNextRun) {
    EmuVm emu(GetParam());
    EMU_LOAD_OR_SKIP(emu, "spin");
    ASSERT_TRUE(emu.vm->reserve_at(kDevice, 0x1000, ignoring()));
    emu.start(*emu.vcpu, kCode, {kDevice, kData, 0});
    emu.vcpu->request_stop();
    auto result = emu.vcpu->run();
    ASSERT_TRUE(result);
    EXPECT_EQ(result->reason, StopReason::stopped);
}

TEST_P(EmuConcurrency, FreeWhileAnotherVcpuRunsInTheEmulator) {
    EmuVm emu(GetParam());
    EMU_LOAD_OR_SKIP(emu, "spin");
    for (int round = 0; round < 5; ++round) {
        std::atomic<bool> freed{false};
        std::atomic<std::uint64_t> device_reads{0};
        std::atomic<int> calls_after_free{0};
        auto ram = emu.add_ram(kSpinRam, 0x4000, Rights::read_write);
        ASSERT_TRUE(ram);
        auto device = emu.vm->reserve_at(kDevice, 0x100, [&](Fault& fault) {
            if (freed.load()) calls_after_free.fetch_add(1);
            device_reads.fetch_add(1);
            fault.set_data(1);
            return FaultResult::handled;
        });
        ASSERT_TRUE(device);
        std::atomic<std::uint64_t> unhandled{0};
        emu.vm->set_unhandled_fault_handler([&](Fault&) {
            unhandled.fetch_add(1);
            return FaultResult::ignore;
        });
        emu.start(*emu.vcpu, kCode, {kDevice, kSpinRam + 0x100, 0});
        auto run = std::async(std::launch::async, [&] { return emu.vcpu->run(); });
        while (device_reads.load() < 1000) std::this_thread::yield();
        ASSERT_TRUE(emu.vm->free(*ram));
        ASSERT_TRUE(emu.vm->free(*device));
        freed.store(true);
        // The guest goes on, now faulting on both addresses.
        const std::uint64_t seen = unhandled.load();
        while (unhandled.load() < seen + 100) std::this_thread::yield();
        emu.vcpu->request_stop();
        auto result = run.get();
        ASSERT_TRUE(result);
        EXPECT_EQ(result->reason, StopReason::stopped) << result->message;
        EXPECT_EQ(calls_after_free.load(), 0);
        emu.vm->set_unhandled_fault_handler({});
    }
}

TEST_P(EmuConcurrency, CodeRunningInAFreedReservationStopsTheRun) {
    // The guest spins in a reservation of its own (a branch to itself, already
    // translated and chained), which another thread frees.
    EmuVm emu(GetParam());
    constexpr GuestAddr kSpin = 0x700000;
    auto id = emu.add_ram(kSpin, 0x1000, Rights::read_write);
    ASSERT_TRUE(id);
    const std::vector<std::uint8_t> x86_spin = {0xeb, 0xfe};              // jmp .
    const std::vector<std::uint8_t> a64_spin = {0x00, 0x00, 0x00, 0x14};  // b .
    const auto& spin = GetParam() == Arch::x86_64 ? x86_spin : a64_spin;
    ASSERT_TRUE(write_guest(*emu.vm, kSpin, std::as_bytes(std::span(spin))));
    emu.start(*emu.vcpu, kSpin, {0, 0, 0});
    std::atomic<bool> done{false};
    std::thread freer([&] {
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
        EXPECT_TRUE(emu.vm->free(*id));
        // A safety net so that a failure cannot hang the suite.
        for (int i = 0; i < 500 && !done; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
        if (!done) emu.vcpu->request_stop();
    });
    auto result = emu.vcpu->run();
    done = true;
    freer.join();
    ASSERT_TRUE(result);
    EXPECT_EQ(result->reason, StopReason::exception) << result->message;
    EXPECT_NE(result->message.find("no longer in mapped guest memory"), std::string::npos) << result->message;
}

TEST_P(EmuConcurrency, TwoVcpusShareRam) {
    EmuVm emu(GetParam());
    EMU_LOAD_OR_SKIP(emu, "ram_sum");
    auto second = emu.vm->create_vcpu();
    ASSERT_TRUE(second);
    emu.start(*emu.vcpu, kCode, {kData, 512, 0});
    emu.start(**second, kCode, {kData + 0x8000, 512, 0});
    auto a = std::async(std::launch::async, [&] { return emu.vcpu->run(); });
    auto b = std::async(std::launch::async, [&] { return (*second)->run(); });
    auto ra = a.get();
    auto rb = b.get();
    ASSERT_TRUE(ra);
    ASSERT_TRUE(rb);
    EXPECT_TRUE(ra->halted()) << ra->message;
    EXPECT_TRUE(rb->halted()) << rb->message;
    EXPECT_EQ(emu.result(*emu.vcpu), 3ull * 512 * 511 / 2);
    EXPECT_EQ(emu.result(**second), 3ull * 512 * 511 / 2);
}

INSTANTIATE_TEST_SUITE_P(Arches, EmuConcurrency, ::testing::ValuesIn(kArches), arch_name);

}  // namespace
}  // namespace guestmem::emu::test
