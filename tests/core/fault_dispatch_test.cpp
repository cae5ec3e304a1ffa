// SPDX-License-Identifier: BSD-2-Clause
// Fault dispatch on the sim backend: routing, and the one meaning of every FaultResult.
#include <gtest/gtest.h>

#include <stdexcept>

#include "fault_dispatcher.hpp"
#include "test_support.hpp"

namespace guestmem {
namespace {

using test::CountingHandler;
using test::LogCapture;
using test::peek;
using test::poke;
using test::SimVm;
using test::returns;
using test::size_mask;

constexpr GuestAddr kStep = sim::kInstructionBytes;
constexpr GuestAddr kIp = 0x40'0000;

/// Starts each test with the vCPU at a known instruction pointer.
struct DispatchTest : ::testing::Test {
    SimVm s;
    void SetUp() override { ASSERT_TRUE(sim::set_instruction_pointer(*s.vcpu, kIp)); }
};

// ---------------------------------------------------------------------------
// FAULT_HANDLED

class HandledRead : public DispatchTest, public ::testing::WithParamInterface<std::tuple<std::size_t, int>> {};

TEST_P(HandledRead, YieldsTheDataMaskedToTheSizeAndAdvancesOnce) {
    const auto [size, advance_calls] = GetParam();
    const GuestAddr addr = 0x1000 + (size == 8 ? 0 : 1);
    ASSERT_TRUE(s.vm->reserve_at(0x1000, 0x10, [advance_calls = advance_calls](Fault& f) {
        f.set_data(0xf1f2f3f4f5f6f7f8ull);  // more bytes than any access has
        for (int i = 0; i < advance_calls; ++i) f.advance();
        return FaultResult::handled;
    }));
    auto value = sim::read(*s.vcpu, addr, size);
    ASSERT_TRUE(value);
    EXPECT_EQ(*value, 0xf1f2f3f4f5f6f7f8ull & size_mask(size));
    EXPECT_EQ(s.ip(), kIp + kStep) << "advanced exactly once, however often the handler asked";
}

INSTANTIATE_TEST_SUITE_P(SizesAndAdvances, HandledRead,
                         ::testing::Combine(::testing::Values(1, 2, 4, 8), ::testing::Values(0, 1, 2)));

TEST_F(DispatchTest, TheHandlerSeesItsOffsetIntoTheReservation) {
    // Two devices at odd places, one sharing a page with the other: each sees
    // register offsets from its own start; the unhandled handler sees addresses.
    std::vector<GuestAddr> offsets, unhandled;
    auto record = [&](Fault& f) {
        offsets.push_back(f.offset());
        return FaultResult::handled;
    };
    ASSERT_TRUE(s.vm->reserve_at(0x1003, 0x10, record));
    ASSERT_TRUE(s.vm->reserve_at(0x1013, 0x8, record));
    s.vm->set_unhandled_fault_handler([&](Fault& f) {
        unhandled.push_back(f.offset());
        return FaultResult::handled;
    });
    ASSERT_TRUE(sim::read(*s.vcpu, 0x1003, 1));
    ASSERT_TRUE(sim::read(*s.vcpu, 0x100b, 4));
    ASSERT_TRUE(sim::write(*s.vcpu, 0x1016, 2, 1));
    ASSERT_TRUE(sim::read(*s.vcpu, 0x1011, 4));  // crosses into the second: one piece each
    ASSERT_TRUE(sim::read(*s.vcpu, 0x5000, 4));
    EXPECT_EQ(offsets, (std::vector<GuestAddr>{0, 8, 3, 0xe, 0}));
    EXPECT_EQ(unhandled, (std::vector<GuestAddr>{0x5000}));
}

TEST_F(DispatchTest, AHandledReadWithoutDataYieldsZero) {
    ASSERT_TRUE(s.vm->reserve_at(0x1000, 0x10, returns(FaultResult::handled)));
    EXPECT_EQ(sim::read(*s.vcpu, 0x1000, 8).value(), 0u);
}

TEST_F(DispatchTest, TheHandlerSeesTheAccess) {
    struct Seen {
        GuestAddr addr, ip;
        std::size_t size;
        bool read, write;
        std::uint64_t data;
        Vcpu* vcpu;
    };
    std::vector<Seen> seen;
    ASSERT_TRUE(s.vm->reserve_at(0x1000, 0x100, [&](Fault& f) {
        EXPECT_EQ(s.vcpu->current_fault(), &f) << "the vCPU knows the fault it is handling";
        seen.push_back(Seen{f.address(), f.ip(), f.size(), f.is_read(), f.is_write(), f.data(), &f.vcpu()});
        return FaultResult::handled;
    }));
    ASSERT_TRUE(sim::write(*s.vcpu, 0x1012, 2, 0x1122334455667788ull));
    ASSERT_TRUE(sim::read(*s.vcpu, 0x10f8, 8));
    ASSERT_EQ(seen.size(), 2u);
    EXPECT_EQ(seen[0].addr, 0x1012u);
    EXPECT_EQ(seen[0].size, 2u);
    EXPECT_FALSE(seen[0].read);
    EXPECT_TRUE(seen[0].write);
    EXPECT_EQ(seen[0].data, 0x7788u) << "a write's data holds only the access's bytes";
    EXPECT_EQ(seen[0].ip, kIp);
    EXPECT_EQ(seen[0].vcpu, s.vcpu);
    EXPECT_EQ(seen[1].addr, 0x10f8u);
    EXPECT_EQ(seen[1].size, 8u);
    EXPECT_TRUE(seen[1].read);
    EXPECT_EQ(seen[1].data, 0u) << "a read's data is 0 until the handler sets it";
    EXPECT_EQ(seen[1].ip, kIp + kStep) << "the first access advanced the vCPU";
    EXPECT_EQ(s.vcpu->current_fault(), nullptr) << "no fault outside a handler";
}

TEST_F(DispatchTest, AdvanceAndRestartRequestsAreRecordedOnTheFault) {
    std::vector<std::pair<bool, bool>> flags;
    ASSERT_TRUE(s.vm->reserve_at(0x1000, 0x10, [&](Fault& f) {
        flags.emplace_back(f.advance_requested(), f.restart_requested());
        f.advance();
        f.restart();
        flags.emplace_back(f.advance_requested(), f.restart_requested());
        return FaultResult::handled;
    }));
    ASSERT_TRUE(sim::read(*s.vcpu, 0x1000, 4));
    EXPECT_EQ(flags, (std::vector<std::pair<bool, bool>>{{false, false}, {true, true}}));
    EXPECT_EQ(s.ip(), kIp + kStep) << "the result decides, not the requests";
}

// ---------------------------------------------------------------------------
// FAULT_IGNORE

TEST_F(DispatchTest, IgnoreDropsAWriteAndReadsAsZero) {
    CountingHandler unhandled;
    s.vm->set_unhandled_fault_handler(unhandled.handler());
    auto id = s.vm->reserve_at(0x10000, 0x1000, [](Fault& f) {
        f.set_data(0xffff'ffff);  // ignored: the read yields 0 regardless
        return FaultResult::ignore;
    });
    const Cap frame = s.frame();
    poke(s.memory(frame).data(), 4, 0x1234'5678);
    const Cap ro[] = {*s.caps->copy(frame, Rights::read)};
    ASSERT_TRUE(s.vm->map_frames(*id, ro, 12));
    ASSERT_TRUE(sim::write(*s.vcpu, 0x10000, 4, 0xdead'beef));
    EXPECT_EQ(peek(s.memory(frame).data(), 4), 0x1234'5678u) << "the write was dropped";
    EXPECT_EQ(s.ip(), kIp + kStep);

    auto device = s.vm->reserve_at(0x20000, 0x10, [](Fault& f) {
        f.set_data(0xffff'ffff);
        return FaultResult::ignore;
    });
    ASSERT_TRUE(device);
    EXPECT_EQ(sim::read(*s.vcpu, 0x20000, 4).value(), 0u);
    EXPECT_EQ(s.ip(), kIp + 2 * kStep);
    EXPECT_EQ(*unhandled.calls, 0);
}

// ---------------------------------------------------------------------------
// FAULT_RESTART

TEST_F(DispatchTest, RestartAfterTheHandlerMapsCompletesFromMemory) {
    const Cap frame = s.frame();
    poke(s.memory(frame).data() + 0x20, 8, 0x0807060504030201ull);
    int calls = 0;
    ReservationId id{};
    auto reserved = s.vm->reserve_at(0x30000, 0x1000, [&](Fault&) {
        ++calls;
        const Cap frames[] = {frame};
        EXPECT_TRUE(s.vm->map_frames(id, frames, 12)) << "a handler may map its own reservation";
        return FaultResult::restart;
    });
    ASSERT_TRUE(reserved);
    id = *reserved;
    EXPECT_EQ(sim::read(*s.vcpu, 0x30020, 8).value(), 0x0807060504030201ull);
    ASSERT_TRUE(sim::write(*s.vcpu, 0x30028, 4, 0xabcd));
    EXPECT_EQ(peek(s.memory(frame).data() + 0x28, 4), 0xabcdu);
    EXPECT_EQ(calls, 1);
    EXPECT_EQ(s.ip(), kIp + 2 * kStep) << "one step per completed access, none per restart";
}

TEST_F(DispatchTest, RestartWithoutProgressIsAnErrorAfterASmallBound) {
    LogCapture log;
    int calls = 0;
    ASSERT_TRUE(s.vm->reserve_at(0x1000, 0x10, [&](Fault&) {
        ++calls;
        return FaultResult::restart;
    }));
    auto value = sim::read(*s.vcpu, 0x1004, 4);
    ASSERT_FALSE(value);
    EXPECT_EQ(value.code(), Errc::fault_error);
    EXPECT_GE(calls, 2) << "a restart is a retry";
    EXPECT_LE(calls, FaultDispatcher::kMaxRestarts + 1) << "bounded, never an endless loop";
    EXPECT_LE(calls, 32) << "and the bound is small";
    EXPECT_EQ(s.ip(), kIp) << "an access that failed does not advance the vCPU";
    EXPECT_TRUE(log.has_error("sim::read", {"0x1004", "no progress"})) << log.dump();
    Access again{0x1004, 4, false, 0};
    const AccessOutcome outcome = s.vm->dispatch(*s.vcpu, again);
    ASSERT_TRUE(outcome.failure);
    EXPECT_EQ(outcome.failure->access.addr, 0x1004u);
    EXPECT_NE(std::string(outcome.failure->reason).find("no progress"), std::string::npos);
}

// ---------------------------------------------------------------------------
// FAULT_UNHANDLED and the unhandled-fault handler

TEST_F(DispatchTest, UnhandledGoesToTheUnhandledHandlerWhoseResultCounts) {
    std::vector<std::tuple<GuestAddr, std::size_t, bool, std::uint64_t>> seen;
    int device_calls = 0;
    ASSERT_TRUE(s.vm->reserve_at(0x1000, 0x10, [&](Fault&) {
        ++device_calls;
        return FaultResult::unhandled;
    }));
    s.vm->set_unhandled_fault_handler([&](Fault& f) {
        seen.emplace_back(f.address(), f.size(), f.is_write(), f.data());
        if (f.is_read()) f.set_data(0x5a5a'5a5a'5a5a'5a5aull);
        return FaultResult::handled;
    });
    EXPECT_EQ(sim::read(*s.vcpu, 0x1008, 2).value(), 0x5a5au);
    ASSERT_TRUE(sim::write(*s.vcpu, 0x1000, 1, 0x1ff));
    EXPECT_EQ(device_calls, 2);
    ASSERT_EQ(seen.size(), 2u);
    EXPECT_EQ(seen[0], std::make_tuple(GuestAddr{0x1008}, std::size_t{2}, false, std::uint64_t{0}));
    EXPECT_EQ(seen[1], std::make_tuple(GuestAddr{0x1000}, std::size_t{1}, true, std::uint64_t{0xff}));
    EXPECT_EQ(s.ip(), kIp + 2 * kStep);
}

TEST_F(DispatchTest, UnhandledWithoutAnUnhandledHandlerIsAnError) {
    LogCapture log;
    ASSERT_TRUE(s.vm->reserve_at(0x1000, 0x10, returns(FaultResult::unhandled)));
    EXPECT_EQ(sim::read(*s.vcpu, 0x1000, 4).code(), Errc::fault_error);
    EXPECT_TRUE(log.has_error("sim::read", {"returned FAULT_UNHANDLED", "no unhandled-fault callback"})) << log.dump();
    EXPECT_EQ(s.ip(), kIp);
}

TEST_F(DispatchTest, AnUnhandledHandlerReturningUnhandledIsAnError) {
    LogCapture log;
    s.vm->set_unhandled_fault_handler(returns(FaultResult::unhandled));
    EXPECT_EQ(sim::write(*s.vcpu, 0x9000, 4, 1).code(), Errc::fault_error);
    EXPECT_TRUE(log.has_error("sim::write", {"FAULT_UNHANDLED"})) << log.dump();
}

TEST_F(DispatchTest, TheUnhandledHandlerMayCreateMemoryAndRestart) {
    // Lazily populated RAM: the unhandled handler reserves and maps the page.
    std::vector<Cap> frames;
    int calls = 0;
    s.vm->set_unhandled_fault_handler([&](Fault& f) {
        ++calls;
        const GuestAddr page = f.address() & ~(kPageSize - 1);
        auto id = s.vm->reserve_at(page, kPageSize, returns(FaultResult::error));
        if (!id) return FaultResult::error;
        frames.push_back(s.frame());
        const Cap one[] = {frames.back()};
        return s.vm->map_frames(*id, one, 12) ? FaultResult::restart : FaultResult::error;
    });
    ASSERT_TRUE(sim::write(*s.vcpu, 0x7000'0010, 4, 0x600d));
    EXPECT_EQ(sim::read(*s.vcpu, 0x7000'0010, 4).value(), 0x600du);
    EXPECT_EQ(calls, 1);
    ASSERT_EQ(frames.size(), 1u);
    EXPECT_EQ(peek(s.memory(frames[0]).data() + 0x10, 4), 0x600du);
}

TEST_F(DispatchTest, TheUnhandledHandlerCanBeReplacedAndRemoved) {
    LogCapture log;
    CountingHandler first, second;
    s.vm->set_unhandled_fault_handler(first.handler());
    ASSERT_TRUE(sim::read(*s.vcpu, 0x5000, 4));
    s.vm->set_unhandled_fault_handler(second.handler());
    ASSERT_TRUE(sim::read(*s.vcpu, 0x5000, 4));
    EXPECT_EQ(*first.calls, 1);
    EXPECT_EQ(*second.calls, 1);
    s.vm->set_unhandled_fault_handler(FaultHandler{});
    EXPECT_FALSE(sim::read(*s.vcpu, 0x5000, 4));
    EXPECT_EQ(*second.calls, 1);
}

// ---------------------------------------------------------------------------
// FAULT_ERROR and other failures

class ErrorReport : public DispatchTest, public ::testing::WithParamInterface<bool> {};

TEST_P(ErrorReport, NamesAddressLengthDirectionAndInstructionPointer) {
    const bool write = GetParam();
    LogCapture log;
    ASSERT_TRUE(s.vm->reserve_at(0xfee0'0000, 0x1000, returns(FaultResult::error)));
    if (write) {
        auto outcome = sim::write(*s.vcpu, 0xfee0'0030, 4, 0x11);
        ASSERT_FALSE(outcome);
        EXPECT_EQ(outcome.code(), Errc::fault_error);
    } else {
        auto outcome = sim::read(*s.vcpu, 0xfee0'0030, 4);
        ASSERT_FALSE(outcome);
        EXPECT_EQ(outcome.code(), Errc::fault_error);
    }
    EXPECT_EQ(s.ip(), kIp) << "the vCPU stops at the access";
    EXPECT_EQ(log.error_count(), 1u) << "logged once, where the access ended\n" << log.dump();
    Access again{0xfee0'0030, 4, write, 0x11};
    const AccessOutcome outcome = s.vm->dispatch(*s.vcpu, again);
    ASSERT_TRUE(outcome.failure);
    const FaultReport& report = *outcome.failure;
    EXPECT_EQ(report.access.addr, 0xfee0'0030u);
    EXPECT_EQ(report.access.size, 4u);
    EXPECT_EQ(report.access.is_write, write);
    EXPECT_EQ(report.ip, kIp);
    EXPECT_NE(std::string(report.reason).find("FAULT_ERROR"), std::string::npos) << report.reason;
    EXPECT_TRUE(log.has_error(write ? "sim::write" : "sim::read",
                              {write ? "write" : "read", "4 bytes", "0xfee00030", "ip 0x400000", "FAULT_ERROR"}))
        << log.dump();
}

INSTANTIATE_TEST_SUITE_P(Directions, ErrorReport, ::testing::Bool(),
                         [](const auto& info) { return info.param ? "write" : "read"; });

TEST_F(DispatchTest, ThrowingHandlersAndBogusResultsAreErrors) {
    LogCapture log;
    ASSERT_TRUE(s.vm->reserve_at(0x1000, 0x10, [](Fault&) -> FaultResult { throw std::runtime_error("boom"); }));
    ASSERT_TRUE(s.vm->reserve_at(0x2000, 0x10, [](Fault&) { return static_cast<FaultResult>(42); }));
    EXPECT_EQ(sim::read(*s.vcpu, 0x1000, 4).code(), Errc::fault_error);
    EXPECT_TRUE(log.has_error("sim::read", {"threw"})) << log.dump();
    EXPECT_EQ(sim::write(*s.vcpu, 0x2000, 4, 0).code(), Errc::fault_error);
    EXPECT_TRUE(log.has_error("sim::write", {"not a memory_fault_result_t"})) << log.dump();
    EXPECT_EQ(s.ip(), kIp);
}

TEST_F(DispatchTest, AccessesOfInvalidSizeOrWrappingTheAddressSpaceFail) {
    LogCapture log;
    s.vm->set_unhandled_fault_handler(returns(FaultResult::handled));
    for (std::size_t size : {0u, 3u, 5u, 16u}) {
        EXPECT_EQ(sim::read(*s.vcpu, 0x1000, size).code(), Errc::invalid_argument) << size;
        EXPECT_EQ(sim::write(*s.vcpu, 0x1000, size, 0).code(), Errc::invalid_argument) << size;
    }
    EXPECT_TRUE(log.has_error("sim::read", {"not 1, 2, 4 or 8"})) << log.dump();
    EXPECT_EQ(sim::read(*s.vcpu, ~0ull - 1, 4).code(), Errc::fault_error);
    EXPECT_TRUE(log.has_error("sim::read", {"wraps"})) << log.dump();
    EXPECT_TRUE(sim::read(*s.vcpu, ~0ull - 4, 4)) << "just below the top is an ordinary (unhandled) access";
    EXPECT_TRUE(sim::read(*s.vcpu, ~0ull - 3, 4)) << "so is one ending exactly at the top";
    EXPECT_EQ(s.ip(), kIp + 2 * kStep);
}

TEST_F(DispatchTest, OddSizedFragmentsFromAHypervisorAreSplitIntoAlignedPieces) {
    // KVM hands over the page-crossing fragments of an access, of 1 to 8 bytes.
    std::vector<std::pair<GuestAddr, std::size_t>> seen;
    ASSERT_TRUE(s.vm->reserve_at(0x2000, 0x10, [&](Fault& f) {
        seen.emplace_back(f.address(), f.size());
        if (f.is_read()) f.set_data(0xa0a1a2a3a4a5a6a7ull);
        return FaultResult::handled;
    }));
    Access access{0x2005, 3, true, 0x332211};
    ASSERT_TRUE(s.vm->dispatch(*s.vcpu, access).completed());
    Access read{0x2001, 7, false, 0};
    ASSERT_TRUE(s.vm->dispatch(*s.vcpu, read).completed());
    EXPECT_EQ(read.data, 0xa4a5a6a7a6a7a7ull) << "pieces of 1, 2 and 4 bytes assembled little-endian";
    EXPECT_EQ(seen, (std::vector<std::pair<GuestAddr, std::size_t>>{
                        {0x2005, 1}, {0x2006, 2}, {0x2001, 1}, {0x2002, 2}, {0x2004, 4}}));
}

// ---------------------------------------------------------------------------
// Routing

// Accesses crossing owners: access_split_test.cpp.

TEST_F(DispatchTest, AnAccessOutsideEveryReservationWithoutAnUnhandledHandlerIsAnError) {
    LogCapture log;
    ASSERT_TRUE(s.vm->reserve_at(0x1000, 0x10, returns(FaultResult::handled)));
    EXPECT_EQ(sim::read(*s.vcpu, 0x2000, 4).code(), Errc::fault_error);
    EXPECT_TRUE(log.has_error("sim::read", {"0x2000", "no reservation", "no unhandled-fault callback"})) << log.dump();
}

TEST_F(DispatchTest, DispatchReportsOutcomesDirectly) {
    LogCapture log;
    ASSERT_TRUE(s.vm->reserve_at(0x1000, 0x10, [](Fault& f) {
        f.set_data(0x77);
        return FaultResult::handled;
    }));
    Access read{0x1000, 1, false, 0};
    EXPECT_TRUE(s.vm->dispatch(*s.vcpu, read).completed());
    EXPECT_EQ(read.data, 0x77u);
    Access stray{0x9000, 4, true, 5};
    const AccessOutcome outcome = s.vm->dispatch(*s.vcpu, stray);
    EXPECT_FALSE(outcome.completed());
    ASSERT_TRUE(outcome.failure);
    EXPECT_EQ(outcome.failure->access.addr, 0x9000u);
    EXPECT_TRUE(outcome.failure->access.is_write);
    EXPECT_EQ(outcome.failure->ip, kIp);
    EXPECT_NE(std::string(outcome.failure->reason).find("no reservation"), std::string::npos)
        << outcome.failure->reason;
    for (std::uint8_t size : {std::uint8_t{0}, std::uint8_t{9}}) {
        Access bad{0x1000, size, false, 0};
        const AccessOutcome refused = s.vm->dispatch(*s.vcpu, bad);
        ASSERT_TRUE(refused.failure) << int{size};
        EXPECT_NE(std::string(refused.failure->reason).find("size"), std::string::npos) << refused.failure->reason;
    }
    EXPECT_EQ(log.error_count(), 0u) << "the caller reports a failure, not Vm::dispatch\n" << log.dump();
}

TEST_F(DispatchTest, AReadYieldsOnlyWhatTheHandlerDecidedWhateverTheBackendPassedIn) {
    // Backends hand Vm::dispatch an Access whose data a read has not filled:
    // it must not leak into the result.
    ASSERT_TRUE(s.vm->reserve_at(0x1000, 0x10, returns(FaultResult::ignore)));
    ASSERT_TRUE(s.vm->reserve_at(0x2000, 0x10, returns(FaultResult::handled)));
    Access ignored{0x1000, 4, false, 0xdead'beef};
    EXPECT_TRUE(s.vm->dispatch(*s.vcpu, ignored).completed());
    EXPECT_EQ(ignored.data, 0u);
    Access handled{0x2000, 4, false, 0xdead'beef};
    EXPECT_TRUE(s.vm->dispatch(*s.vcpu, handled).completed());
    EXPECT_EQ(handled.data, 0u) << "handled without set_data reads as 0";
}

TEST(DispatchScale, ManyReservationsEachReachTheirOwnHandler) {
    SimVm s;
    constexpr int kCount = 5000;
    std::vector<int> hits(kCount, 0);
    for (int i = 0; i < kCount; ++i) {
        // Byte-granular devices, 8 bytes apart, 4 bytes each.
        ASSERT_TRUE(s.vm->reserve_at(0x1000'0000 + 8ull * i, 4, [&hits, i](Fault& f) {
            ++hits[i];
            f.set_data(static_cast<std::uint64_t>(i));
            return FaultResult::handled;
        }));
    }
    for (int i = 0; i < kCount; i += 7) {
        ASSERT_EQ(sim::read(*s.vcpu, 0x1000'0000 + 8ull * i, 4).value(), static_cast<std::uint64_t>(i));
    }
    int total = 0;
    for (int i = 0; i < kCount; ++i) {
        EXPECT_EQ(hits[i], i % 7 == 0 ? 1 : 0) << i;
        total += hits[i];
    }
    EXPECT_EQ(total, (kCount + 6) / 7);
}

}  // namespace
}  // namespace guestmem
