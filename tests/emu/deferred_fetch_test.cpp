// SPDX-License-Identifier: BSD-2-Clause
// Deferred mappings whose first touch is an instruction fetch, on the
// emulator: the engine reports the fetch as unmapped, the vCPU completes the
// mapping and the guest goes on without noticing.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <vector>

#include "emu_test_support.hpp"

namespace guestmem::emu::test {
namespace {

constexpr GuestAddr kChunk = 0x10000;     // the guest's code spans two chunks of this size
constexpr GuestAddr kFarCode = 0x200000;  // the first chunk, outside the test VM's RAM
constexpr std::uint64_t kFramesPerChunk = kChunk / 0x1000;

class EmuDeferredFetch : public ::testing::TestWithParam<Arch> {
protected:
    /// Reserves [base, base + kChunk) with a deferred mapping of fresh frames
    /// holding `bytes` (the part of the image that chunk holds); counts the
    /// iterator's calls in `calls`.
    Result<ReservationId> deferred_chunk(EmuVm& emu, GuestAddr base, std::span<const std::byte> bytes, int& calls) {
        std::vector<Cap> frames;
        for (std::uint64_t i = 0; i < kFramesPerChunk; ++i) {
            auto cap = emu.caps->allocate_frame(FrameSize::k4KiB);
            if (!cap) return cap.error();
            frames.push_back(*cap);
            const std::uint64_t from = i * 0x1000;
            if (from < bytes.size()) {
                const std::size_t n = std::min<std::size_t>(0x1000, bytes.size() - from);
                std::memcpy(emu.caps->frame_memory(*cap)->data(), bytes.data() + from, n);
            }
        }
        auto id = emu.vm->reserve_at(base, kChunk, ignoring());
        if (!id) return id.error();
        emu.vm->set_deferred_mapping(true);
        auto mapped = emu.vm->map(*id, [frames, base, &calls](GuestAddr addr) {
            ++calls;
            return FrameRequest{frames[(addr - base) / 0x1000], Rights::read_write, addr, 12};
        });
        emu.vm->set_deferred_mapping(false);
        if (!mapped) return mapped.error();
        return *id;
    }

    static bool deferred(const Vm& vm, ReservationId id) {
        for (const ReservationInfo& info : vm.reservations()) {
            if (info.id == id) return info.deferred;
        }
        return false;
    }
};

TEST_P(EmuDeferredFetch, CodeInTwoUntouchedDeferredChunksRunsToCompletion) {
    EmuVm emu(GetParam());
    const std::vector<std::byte> image = guest_image(emu.arch, "deferred_fetch");
    if (image.empty()) GTEST_SKIP() << "guest deferred_fetch was not built for " << to_string(emu.arch);
    ASSERT_GT(image.size(), kChunk) << "the guest's code must reach into the second chunk";
    int first_calls = 0;
    int second_calls = 0;
    auto first = deferred_chunk(emu, kFarCode, std::span(image).first(kChunk), first_calls);
    ASSERT_TRUE(first) << first.error().message;
    auto second = deferred_chunk(emu, kFarCode + kChunk, std::span(image).subspan(kChunk), second_calls);
    ASSERT_TRUE(second) << second.error().message;
    ASSERT_TRUE(deferred(*emu.vm, *first));
    ASSERT_TRUE(deferred(*emu.vm, *second));

    emu.start(*emu.vcpu, kFarCode, {7, 0, 0});
    auto result = emu.vcpu->run();
    ASSERT_TRUE(result) << result.error().message;
    EXPECT_TRUE(result->halted()) << result->message;
    EXPECT_EQ(emu.result(*emu.vcpu), 3u * 7 + 1) << "the call into the second chunk returned";
    EXPECT_EQ(first_calls, static_cast<int>(kFramesPerChunk)) << "each chunk is mapped once";
    EXPECT_EQ(second_calls, static_cast<int>(kFramesPerChunk));
    EXPECT_FALSE(deferred(*emu.vm, *first));
    EXPECT_FALSE(deferred(*emu.vm, *second));
    EXPECT_EQ(result->exits.mmio, 0u) << "fetches reach no device handler";

    // Once mapped, the code runs from RAM again without further mapping.
    emu.start(*emu.vcpu, kFarCode, {1, 0, 0});
    result = emu.vcpu->run();
    ASSERT_TRUE(result) << result.error().message;
    EXPECT_TRUE(result->halted()) << result->message;
    EXPECT_EQ(emu.result(*emu.vcpu), 4u);
    EXPECT_EQ(first_calls + second_calls, static_cast<int>(2 * kFramesPerChunk));
}

TEST_P(EmuDeferredFetch, AFetchFromEmulatedMemoryStillStopsTheRun) {
    EmuVm emu(GetParam());
    int handler_calls = 0;
    ASSERT_TRUE(emu.vm->reserve_at(kDevice, 0x1000, [&](Fault&) {
        ++handler_calls;
        return FaultResult::ignore;
    }));
    emu.start(*emu.vcpu, kDevice, {0, 0, 0});
    auto result = emu.vcpu->run();
    ASSERT_TRUE(result) << result.error().message;
    EXPECT_EQ(result->reason, StopReason::exception) << result->message;
    EXPECT_NE(result->message.find("not mapped RAM"), std::string::npos) << result->message;
    EXPECT_EQ(result->ip, kDevice);
    EXPECT_EQ(handler_calls, 0);
}

TEST_P(EmuDeferredFetch, AFailedDeferredMappingOfCodeEndsTheRunWithTheReason) {
    EmuVm emu(GetParam());
    auto id = emu.vm->reserve_at(kFarCode, kChunk, ignoring());
    ASSERT_TRUE(id);
    emu.vm->set_deferred_mapping(true);
    int calls = 0;
    ASSERT_TRUE(emu.vm->map(*id, [&](GuestAddr addr) {
        ++calls;
        return FrameRequest{kNullCap, Rights::all, addr, 12};  // no frame: the mapping fails
    }));
    emu.vm->set_deferred_mapping(false);
    emu.start(*emu.vcpu, kFarCode, {0, 0, 0});
    auto result = emu.vcpu->run();
    ASSERT_TRUE(result) << result.error().message;
    EXPECT_EQ(result->reason, StopReason::internal_error) << result->message;
    EXPECT_NE(result->message.find("deferred mapping"), std::string::npos) << result->message;
    EXPECT_EQ(calls, 1) << "tried once, not in a loop";
}

INSTANTIATE_TEST_SUITE_P(Arches, EmuDeferredFetch, ::testing::ValuesIn(kArches), arch_name);

}  // namespace
}  // namespace guestmem::emu::test
