// SPDX-License-Identifier: BSD-2-Clause
// Emulated devices on the emulator: what guest MMIO accesses deliver to handlers.
#include <gtest/gtest.h>

#include <vector>

#include "emu_test_support.hpp"
#include "guestmem/guest_memory.hpp"

namespace guestmem::emu::test {
namespace {

enum Op : std::uint64_t { store1, store2, store4, store8, load1, load2, load4, load8 };

/// A device that records every access and answers reads with `reply`.
struct Recorder {
    std::vector<Access> accesses;
    std::uint64_t reply = 0;
    FaultHandler handler() {
        return [this](Fault& fault) {
            accesses.push_back(fault.access());
            if (fault.is_read()) fault.set_data(reply);
            return FaultResult::handled;
        };
    }
};

class EmuDevice : public ::testing::TestWithParam<Arch> {
protected:
    RunResult run_access(EmuVm& emu, GuestAddr addr, std::uint64_t value, Op op) {
        emu.start(*emu.vcpu, kCode, {addr, value, op});
        auto result = emu.vcpu->run();
        EXPECT_TRUE(result);
        return result ? *result : RunResult{};
    }
};

TEST_P(EmuDevice, WritesOfOneTwoAndFourBytesArriveWhole) {
    EmuVm emu(GetParam());
    EMU_LOAD_OR_SKIP(emu, "access");
    Recorder device;
    ASSERT_TRUE(emu.vm->reserve_at(kDevice, 0x100, device.handler()));
    const std::pair<Op, std::uint8_t> cases[] = {{store1, 1}, {store2, 2}, {store4, 4}};
    for (auto [op, size] : cases) {
        device.accesses.clear();
        auto result = run_access(emu, kDevice + 0x10, 0x1122334455667788, op);
        EXPECT_TRUE(result.halted()) << result.message;
        ASSERT_EQ(device.accesses.size(), 1u) << "size " << int(size);
        EXPECT_TRUE(device.accesses[0].is_write);
        EXPECT_EQ(device.accesses[0].addr, kDevice + 0x10);
        EXPECT_EQ(device.accesses[0].size, size);
        EXPECT_EQ(device.accesses[0].data, 0x1122334455667788 & (~0ull >> (64 - 8 * size)));
    }
}

TEST_P(EmuDevice, EightByteWritesArriveAsTwoHalvesLowFirst) {
    EmuVm emu(GetParam());
    EMU_LOAD_OR_SKIP(emu, "access");
    Recorder device;
    ASSERT_TRUE(emu.vm->reserve_at(kDevice, 0x100, device.handler()));
    auto result = run_access(emu, kDevice + 0x20, 0x1122334455667788, store8);
    EXPECT_TRUE(result.halted()) << result.message;
    ASSERT_EQ(device.accesses.size(), 2u);
    EXPECT_EQ(device.accesses[0].addr, kDevice + 0x20);
    EXPECT_EQ(device.accesses[0].size, 4);
    EXPECT_EQ(device.accesses[0].data, 0x55667788u);
    EXPECT_EQ(device.accesses[1].addr, kDevice + 0x24);
    EXPECT_EQ(device.accesses[1].size, 4);
    EXPECT_EQ(device.accesses[1].data, 0x11223344u);
}

TEST_P(EmuDevice, ReadsReturnWhatTheHandlerSets) {
    EmuVm emu(GetParam());
    EMU_LOAD_OR_SKIP(emu, "access");
    Recorder device;
    device.reply = 0xa1b2c3d4;
    ASSERT_TRUE(emu.vm->reserve_at(kDevice, 0x100, device.handler()));
    const std::pair<Op, std::uint8_t> cases[] = {{load1, 1}, {load2, 2}, {load4, 4}};
    for (auto [op, size] : cases) {
        device.accesses.clear();
        auto result = run_access(emu, kDevice + 0x40, 0, op);
        EXPECT_TRUE(result.halted()) << result.message;
        ASSERT_EQ(device.accesses.size(), 1u);
        EXPECT_FALSE(device.accesses[0].is_write);
        EXPECT_EQ(device.accesses[0].size, size);
        EXPECT_EQ(emu.result(*emu.vcpu), 0xa1b2c3d4 & (~0ull >> (64 - 8 * size)));
    }
}

TEST_P(EmuDevice, EightByteReadsArriveAsTwoHalvesLowFirst) {
    EmuVm emu(GetParam());
    EMU_LOAD_OR_SKIP(emu, "access");
    std::vector<Access> seen;
    ASSERT_TRUE(emu.vm->reserve_at(kDevice, 0x100, [&](Fault& fault) {
        seen.push_back(fault.access());
        fault.set_data(fault.address() == kDevice + 0x48 ? 0x55667788 : 0x11223344);
        return FaultResult::handled;
    }));
    auto result = run_access(emu, kDevice + 0x48, 0, load8);
    EXPECT_TRUE(result.halted()) << result.message;
    ASSERT_EQ(seen.size(), 2u);
    EXPECT_EQ(seen[0].addr, kDevice + 0x48);
    EXPECT_EQ(seen[1].addr, kDevice + 0x4c);
    EXPECT_EQ(seen[0].size, 4);
    EXPECT_EQ(emu.result(*emu.vcpu), 0x1122334455667788u);
}

TEST_P(EmuDevice, UnalignedReadsArriveAsAlignedOverReads) {
    EmuVm emu(GetParam());
    EMU_LOAD_OR_SKIP(emu, "access");
    Recorder device;
    device.reply = 0x44332211;  // every read: bytes 11 22 33 44 from its address on
    ASSERT_TRUE(emu.vm->reserve_at(kDevice, 0x100, device.handler()));
    const std::pair<Op, std::uint8_t> cases[] = {{load2, 2}, {load4, 4}};
    for (auto [op, size] : cases) {
        device.accesses.clear();
        auto result = run_access(emu, kDevice + 0x51, 0, op);
        EXPECT_TRUE(result.halted()) << result.message;
        // Two reads of the load's size, each aligned to it, covering its bytes.
        ASSERT_EQ(device.accesses.size(), 2u) << "size " << int(size);
        EXPECT_EQ(device.accesses[0].addr, kDevice + 0x50);
        EXPECT_EQ(device.accesses[1].addr, kDevice + 0x50 + size);
        for (const Access& access : device.accesses) {
            EXPECT_FALSE(access.is_write);
            EXPECT_EQ(access.size, size);
        }
        // The guest gets its bytes out of the two reads.
        EXPECT_EQ(emu.result(*emu.vcpu), size == 2 ? 0x1122u : 0x11443322u);
    }
}

TEST_P(EmuDevice, UnalignedWritesArriveByteByByte) {
    EmuVm emu(GetParam());
    EMU_LOAD_OR_SKIP(emu, "access");
    Recorder device;
    ASSERT_TRUE(emu.vm->reserve_at(kDevice, 0x100, device.handler()));
    auto result = run_access(emu, kDevice + 0x53, 0xaabbccdd, store4);
    EXPECT_TRUE(result.halted()) << result.message;
    ASSERT_EQ(device.accesses.size(), 4u);
    const std::uint64_t bytes[] = {0xdd, 0xcc, 0xbb, 0xaa};
    for (std::size_t i = 0; i < 4; ++i) {
        EXPECT_EQ(device.accesses[i].addr, kDevice + 0x53 + i);
        EXPECT_EQ(device.accesses[i].size, 1);
        EXPECT_EQ(device.accesses[i].data, bytes[i]);
    }
}

TEST_P(EmuDevice, SeveralDevicesInOnePageEachGetTheirAccesses) {
    EmuVm emu(GetParam());
    EMU_LOAD_OR_SKIP(emu, "access");
    Recorder a, b, c;
    ASSERT_TRUE(emu.vm->reserve_at(kDevice + 0x000, 0x10, a.handler()));
    ASSERT_TRUE(emu.vm->reserve_at(kDevice + 0x010, 0x10, b.handler()));
    ASSERT_TRUE(emu.vm->reserve_at(kDevice + 0x300, 0x4, c.handler()));
    b.reply = 0xbb;
    c.reply = 0xcc;
    run_access(emu, kDevice + 0x004, 7, store4);
    run_access(emu, kDevice + 0x014, 0, load1);
    EXPECT_EQ(emu.result(*emu.vcpu), 0xbbu);
    run_access(emu, kDevice + 0x300, 0, load1);
    EXPECT_EQ(emu.result(*emu.vcpu), 0xccu);
    ASSERT_EQ(a.accesses.size(), 1u);
    EXPECT_EQ(a.accesses[0].addr, kDevice + 0x4);
    EXPECT_EQ(a.accesses[0].data, 7u);
    ASSERT_EQ(b.accesses.size(), 1u);
    EXPECT_EQ(b.accesses[0].addr, kDevice + 0x14);
    ASSERT_EQ(c.accesses.size(), 1u);
}

TEST_P(EmuDevice, AccessOutsideEveryReservationReachesTheUnhandledFaultHandler) {
    EmuVm emu(GetParam());
    EMU_LOAD_OR_SKIP(emu, "access");
    std::vector<Access> seen;
    emu.vm->set_unhandled_fault_handler([&](Fault& fault) {
        seen.push_back(fault.access());
        if (fault.is_read()) fault.set_data(0x77);
        return FaultResult::handled;
    });
    auto result = run_access(emu, 0x20000000, 0, load1);
    EXPECT_TRUE(result.halted()) << result.message;
    ASSERT_EQ(seen.size(), 1u);
    EXPECT_EQ(seen[0].addr, 0x20000000u);
    EXPECT_EQ(emu.result(*emu.vcpu), 0x77u);
}

TEST_P(EmuDevice, FaultErrorStopsTheRunWithTheAccess) {
    EmuVm emu(GetParam());
    EMU_LOAD_OR_SKIP(emu, "access");
    int calls = 0;
    ASSERT_TRUE(emu.vm->reserve_at(kDevice, 0x100, [&](Fault&) {
        ++calls;
        return FaultResult::error;
    }));
    auto result = run_access(emu, kDevice + 0x8, 0x99, store4);
    EXPECT_EQ(result.reason, StopReason::fault_error) << result.message;
    ASSERT_TRUE(result.fault);
    EXPECT_EQ(result.fault->access.addr, kDevice + 0x8);
    EXPECT_TRUE(result.fault->access.is_write);
    EXPECT_EQ(result.fault->access.size, 4);
    EXPECT_EQ(calls, 1);
}

TEST_P(EmuDevice, NothingAfterAFailedAccessRunsAndTheNextRunCompletesIt) {
    EmuVm emu(GetParam());
    EMU_LOAD_OR_SKIP(emu, "fail_midblock");
    int calls = 0;
    ASSERT_TRUE(emu.vm->reserve_at(kDevice, 0x100, [&](Fault&) {
        ++calls;
        return FaultResult::error;
    }));
    // The device store is the second instruction of fail_midblock's only block.
    const GuestAddr store = kCode + (GetParam() == Arch::x86_64 ? 7 : 4);
    const std::uint64_t canary = 0x5a5a5a5a5a5a5a5a;
    auto data = [&] {
        auto value = read_guest_value<std::uint64_t>(*emu.vm, kData);
        EXPECT_TRUE(value);
        return value ? *value : 0;
    };
    ASSERT_TRUE(write_guest_value(*emu.vm, kData, canary));
    emu.start(*emu.vcpu, kCode, {kDevice + 0x8, 0x99, kData});
    auto result = emu.vcpu->run();
    ASSERT_TRUE(result);
    ASSERT_EQ(result->reason, StopReason::fault_error) << result->message;
    ASSERT_TRUE(result->fault);
    EXPECT_EQ(result->fault->access.addr, kDevice + 0x8);
    // Stopped at the store itself: no later instruction of its block ran.
    EXPECT_EQ(result->fault->ip, store);
    EXPECT_EQ(result->ip, store);
    EXPECT_EQ(emu.result(*emu.vcpu), 1u);
    EXPECT_EQ(data(), canary);
    EXPECT_EQ(calls, 1);

    // Running on completes the failed store as ignored (as KVM completes a
    // failed MMIO access) without asking the handler again, then goes on.
    result = emu.vcpu->run();
    ASSERT_TRUE(result);
    ASSERT_TRUE(result->halted()) << result->message;
    EXPECT_EQ(calls, 1);
    EXPECT_EQ(emu.result(*emu.vcpu), 2u);
    EXPECT_EQ(data(), 2u);

    // Moving the vCPU (new registers) drops the completion: the store is
    // performed again and fails again.
    emu.start(*emu.vcpu, store, {kDevice + 0x8, 0x99, kData});
    result = emu.vcpu->run();
    ASSERT_TRUE(result);
    EXPECT_EQ(result->reason, StopReason::fault_error) << result->message;
    EXPECT_EQ(calls, 2);
}

TEST_P(EmuDevice, IgnoredReadsYieldZero) {
    EmuVm emu(GetParam());
    EMU_LOAD_OR_SKIP(emu, "access");
    ASSERT_TRUE(emu.vm->reserve_at(kDevice, 0x100, ignoring()));
    auto result = run_access(emu, kDevice, 0, load4);
    EXPECT_TRUE(result.halted()) << result.message;
    EXPECT_EQ(emu.result(*emu.vcpu), 0u);
}

TEST_P(EmuDevice, ManyDevicePagesRecycleTheirRegions) {
    EmuVm emu(GetParam(), Options{.max_regions = 16, .mmio_pages = 4});
    EMU_LOAD_OR_SKIP(emu, "access");
    std::size_t calls = 0;
    ASSERT_TRUE(emu.vm->reserve_at(kDevice, 0x100000, [&](Fault& fault) {
        ++calls;
        fault.set_data(fault.address() >> 12);
        return FaultResult::handled;
    }));
    for (GuestAddr page = 0; page < 40; ++page) {
        auto result = run_access(emu, kDevice + page * 0x1000, 0, load4);
        ASSERT_TRUE(result.halted()) << result.message;
        EXPECT_EQ(emu.result(*emu.vcpu), (kDevice + page * 0x1000) >> 12);
    }
    EXPECT_EQ(calls, 40u);
}

TEST_P(EmuDevice, HandlerCanEndTheRunWithAnExitStatus) {
    EmuVm emu(GetParam());
    EMU_LOAD_OR_SKIP(emu, "spin");  // never halts by itself
    int reads = 0;
    ASSERT_TRUE(emu.vm->reserve_at(kDevice, 0x100, [&](Fault& fault) {
        if (++reads == 10) fault.vcpu().request_exit(7);
        return FaultResult::ignore;
    }));
    emu.start(*emu.vcpu, kCode, {kDevice, kData, 0});
    auto result = emu.vcpu->run();
    ASSERT_TRUE(result);
    EXPECT_EQ(result->reason, StopReason::exited) << result->message;
    EXPECT_EQ(result->exit_status, 7);
    EXPECT_EQ(reads, 10);
}

TEST_P(EmuDevice, ExitFromAHandlerCompletesItsInstructionAndNothingAfterRuns) {
    EmuVm emu(GetParam());
    EMU_LOAD_OR_SKIP(emu, "fail_midblock");
    int calls = 0;
    ASSERT_TRUE(emu.vm->reserve_at(kDevice, 0x100, [&](Fault& fault) {
        ++calls;
        fault.vcpu().request_exit(3);
        return FaultResult::handled;
    }));
    // The device store is the second instruction of fail_midblock's only
    // block (x86: 2 bytes long; AArch64: 4).
    const bool x86 = GetParam() == Arch::x86_64;
    const GuestAddr after_store = kCode + (x86 ? 9 : 8);
    const std::uint64_t canary = 0x5a5a5a5a5a5a5a5a;
    ASSERT_TRUE(write_guest_value(*emu.vm, kData, canary));
    emu.start(*emu.vcpu, kCode, {kDevice + 0x8, 0x99, kData});
    auto result = emu.vcpu->run();
    ASSERT_TRUE(result);
    ASSERT_EQ(result->reason, StopReason::exited) << result->message;
    EXPECT_EQ(result->exit_status, 3);
    EXPECT_EQ(result->ip, after_store);
    EXPECT_EQ(emu.result(*emu.vcpu), 1u);  // the instructions after the store did not run
    EXPECT_EQ(*read_guest_value<std::uint64_t>(*emu.vm, kData), canary);
    EXPECT_EQ(calls, 1);

    result = emu.vcpu->run();
    ASSERT_TRUE(result);
    ASSERT_TRUE(result->halted()) << result->message;
    EXPECT_EQ(emu.result(*emu.vcpu), 2u);
    EXPECT_EQ(*read_guest_value<std::uint64_t>(*emu.vm, kData), 2u);
    EXPECT_EQ(calls, 1);  // the store was not delivered again
}

TEST_P(EmuDevice, ExitFromTheFirstHalfOfAnEightByteReadStillDeliversTheSecond) {
    EmuVm emu(GetParam());
    EMU_LOAD_OR_SKIP(emu, "access");
    std::vector<Access> seen;
    ASSERT_TRUE(emu.vm->reserve_at(kDevice, 0x100, [&](Fault& fault) {
        seen.push_back(fault.access());
        if (fault.address() == kDevice + 0x48) {
            fault.set_data(0x55667788);
            fault.vcpu().request_exit(5);
        } else {
            fault.set_data(0x11223344);
        }
        return FaultResult::handled;
    }));
    emu.start(*emu.vcpu, kCode, {kDevice + 0x48, 0, load8});
    auto result = emu.vcpu->run();
    ASSERT_TRUE(result);
    ASSERT_EQ(result->reason, StopReason::exited) << result->message;
    EXPECT_EQ(result->exit_status, 5);
    // The read completed, each half delivered once.
    ASSERT_EQ(seen.size(), 2u);
    EXPECT_EQ(seen[0].addr, kDevice + 0x48);
    EXPECT_EQ(seen[1].addr, kDevice + 0x4c);
    EXPECT_EQ(emu.result(*emu.vcpu), 0x1122334455667788u);

    result = emu.vcpu->run();
    ASSERT_TRUE(result);
    EXPECT_TRUE(result->halted()) << result->message;
    EXPECT_EQ(seen.size(), 2u);
    EXPECT_EQ(emu.result(*emu.vcpu), 0x1122334455667788u);
}

INSTANTIATE_TEST_SUITE_P(Arches, EmuDevice, ::testing::ValuesIn(kArches), arch_name);

}  // namespace
}  // namespace guestmem::emu::test
