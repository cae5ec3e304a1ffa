// SPDX-License-Identifier: BSD-2-Clause
// CapabilitySpace: frames named by capabilities with rights.
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <set>
#include <thread>
#include <vector>

#include "guestmem/capability_space.hpp"
#include "test_support.hpp"

namespace guestmem {
namespace {

using test::LogCapture;

constexpr FrameSize kAllSizes[] = {FrameSize::k4KiB, FrameSize::k2MiB, FrameSize::k1GiB};

TEST(CapabilitySpace, AllocatesZeroedFramesOfEverySizeWithAllRights) {
    CapabilitySpace caps;
    for (FrameSize size : kAllSizes) {
        SCOPED_TRACE(bits_of(size));
        auto cap = caps.allocate_frame(size);
        ASSERT_TRUE(cap);
        EXPECT_NE(*cap, kNullCap);
        auto info = caps.lookup(*cap);
        ASSERT_TRUE(info);
        EXPECT_EQ(info->rights, Rights::all);
        EXPECT_EQ(info->frame->size(), size);
        EXPECT_EQ(info->frame->bytes(), bytes_of(size));
        EXPECT_EQ(info->frame->memfd_offset() % bytes_of(size), 0u) << "frames are naturally aligned in the memfd";
        auto mem = caps.frame_memory(*cap);
        ASSERT_TRUE(mem);
        ASSERT_EQ(mem->size(), bytes_of(size));
        EXPECT_EQ(mem->front(), std::byte{0});
        EXPECT_EQ(mem->back(), std::byte{0});
        mem->front() = std::byte{0x5a};  // the memory is writable by the VMM
        EXPECT_EQ(mem->front(), std::byte{0x5a});
    }
    EXPECT_EQ(caps.live_capabilities(), 3u);
    EXPECT_EQ(caps.frame_bytes_in_use(),
              bytes_of(FrameSize::k4KiB) + bytes_of(FrameSize::k2MiB) + bytes_of(FrameSize::k1GiB));
}

TEST(CapabilitySpace, DeletedCapabilitiesNeverRevive) {
    LogCapture log;
    CapabilitySpace caps;
    const Cap first = *caps.allocate_frame(FrameSize::k4KiB);
    ASSERT_TRUE(caps.remove(first));
    auto dead = caps.lookup(first);
    ASSERT_FALSE(dead);
    EXPECT_EQ(dead.code(), Errc::bad_capability);
    EXPECT_FALSE(caps.frame_memory(first));
    // However many capabilities are issued afterwards, none has the dead value.
    std::set<Cap> issued;
    for (int i = 0; i < 64; ++i) {
        const Cap frame = *caps.allocate_frame(FrameSize::k4KiB);
        const Cap copy = *caps.copy(frame, Rights::read);
        issued.insert(frame);
        issued.insert(copy);
    }
    EXPECT_EQ(issued.size(), 128u) << "every capability value is new";
    EXPECT_EQ(issued.count(first), 0u);
    EXPECT_EQ(issued.count(kNullCap), 0u);
    EXPECT_FALSE(caps.lookup(first));
}

TEST(CapabilitySpace, RemovingADeadNullOrUnknownCapabilityFails) {
    LogCapture log;
    CapabilitySpace caps;
    const Cap cap = *caps.allocate_frame(FrameSize::k4KiB);
    ASSERT_TRUE(caps.remove(cap));
    for (Cap bad : {cap, kNullCap, Cap{0xdead'beef}}) {
        auto removed = caps.remove(bad);
        ASSERT_FALSE(removed);
        EXPECT_EQ(removed.code(), Errc::bad_capability);
    }
    EXPECT_TRUE(log.has_error("CapabilitySpace::remove", {"is not live"})) << log.dump();
    EXPECT_EQ(caps.live_capabilities(), 0u);
}

TEST(CapabilitySpace, CopiesCanOnlyShrinkRights) {
    LogCapture log;
    CapabilitySpace caps;
    const Cap all = *caps.allocate_frame(FrameSize::k4KiB);
    const Cap ro = *caps.copy(all, Rights::read);
    EXPECT_EQ(caps.lookup(ro)->rights, Rights::read);
    // Asking for more than the source has yields only what the source has.
    const Cap ro_again = *caps.copy(ro, Rights::all);
    EXPECT_EQ(caps.lookup(ro_again)->rights, Rights::read);
    const Cap none = *caps.copy(ro, Rights::write);
    EXPECT_EQ(caps.lookup(none)->rights, Rights::none);
    const Cap rw = *caps.copy(all, Rights::read_write);
    EXPECT_EQ(caps.lookup(rw)->rights, Rights::read_write);
    EXPECT_EQ(caps.lookup(all)->rights, Rights::all) << "copying does not change the source";
    // Copies name the same frame.
    EXPECT_EQ(caps.lookup(ro)->frame, caps.lookup(all)->frame);
    caps.frame_memory(all)->front() = std::byte{0x42};
    EXPECT_EQ(caps.frame_memory(ro)->front(), std::byte{0x42});
    // A dead source cannot be copied.
    ASSERT_TRUE(caps.remove(all));
    auto copy = caps.copy(all, Rights::read);
    ASSERT_FALSE(copy);
    EXPECT_EQ(copy.code(), Errc::bad_capability);
}

TEST(CapabilitySpace, FrameLivesWhileAnyCapabilityNamesIt) {
    CapabilitySpace caps;
    const Cap a = *caps.allocate_frame(FrameSize::k2MiB);
    const Cap b = *caps.copy(a, Rights::read);
    caps.frame_memory(a)->back() = std::byte{0x77};
    ASSERT_TRUE(caps.remove(a));
    EXPECT_EQ(caps.frame_bytes_in_use(), bytes_of(FrameSize::k2MiB));
    auto mem = caps.frame_memory(b);
    ASSERT_TRUE(mem);
    EXPECT_EQ(mem->back(), std::byte{0x77}) << "the frame survived its first capability";
    ASSERT_TRUE(caps.remove(b));
    EXPECT_EQ(caps.frame_bytes_in_use(), 0u) << "the last capability took the frame with it";
}

TEST(CapabilitySpace, AFreedFramesMemoryComesBackZeroed) {
    CapabilitySpace caps;
    const Cap a = *caps.allocate_frame(FrameSize::k4KiB);
    auto old = *caps.frame_memory(a);
    std::fill(old.begin(), old.end(), std::byte{0xee});
    const std::byte* old_host = old.data();
    ASSERT_TRUE(caps.remove(a));
    const Cap b = *caps.allocate_frame(FrameSize::k4KiB);
    auto mem = *caps.frame_memory(b);
    // First fit in a fresh arena: the new frame reuses the old one's memory,
    // which is what makes the zeroing observable.
    ASSERT_EQ(mem.data(), old_host);
    EXPECT_TRUE(std::all_of(mem.begin(), mem.end(), [](std::byte v) { return v == std::byte{0}; }));
}

TEST(CapabilitySpace, FrameMemoryIsTheMemfdAtTheFramesOffset) {
    // Hypervisors (and other processes) map frames through the memfd: it must
    // hold the very bytes the VMM sees.
    CapabilitySpace caps;
    (void)caps.allocate_frame(FrameSize::k4KiB);
    const Cap cap = *caps.allocate_frame(FrameSize::k4KiB);
    auto frame = caps.lookup(cap)->frame;
    const char text[] = "through the memfd";
    std::memcpy(frame->host() + 100, text, sizeof text);
    char back[sizeof text] = {};
    ASSERT_EQ(pread(frame->memfd(), back, sizeof back, static_cast<off_t>(frame->memfd_offset() + 100)),
              static_cast<ssize_t>(sizeof back));
    EXPECT_STREQ(back, text);
}

TEST(CapabilitySpace, TheFrameBudgetLimitsLiveFrames) {
    LogCapture log;
    CapabilitySpace::Options options;
    options.frame_budget = 2 * kPageSize;
    CapabilitySpace caps(options);
    const Cap a = *caps.allocate_frame(FrameSize::k4KiB);
    ASSERT_TRUE(caps.allocate_frame(FrameSize::k4KiB));
    auto third = caps.allocate_frame(FrameSize::k4KiB);
    ASSERT_FALSE(third);
    EXPECT_EQ(third.code(), Errc::out_of_memory);
    auto large = caps.allocate_frame(FrameSize::k2MiB);
    ASSERT_FALSE(large);
    EXPECT_EQ(large.code(), Errc::out_of_memory);
    EXPECT_TRUE(log.has_error("CapabilitySpace::allocate_frame", {"budget"})) << log.dump();
    EXPECT_EQ(caps.live_capabilities(), 2u) << "failed allocations issue nothing";
    ASSERT_TRUE(caps.remove(a));
    EXPECT_TRUE(caps.allocate_frame(FrameSize::k4KiB)) << "freed budget is available again";
}

TEST(CapabilitySpace, ConcurrentUseIssuesDistinctCapabilities) {
    CapabilitySpace caps;
    constexpr int kThreads = 2;
    constexpr int kPerThread = 200;
    std::vector<std::vector<Cap>> issued(kThreads);
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
        threads.emplace_back([&, t] {
            for (int i = 0; i < kPerThread; ++i) {
                const Cap frame = *caps.allocate_frame(FrameSize::k4KiB);
                issued[t].push_back(frame);
                issued[t].push_back(*caps.copy(frame, Rights::read));
                caps.frame_memory(frame)->front() = std::byte{static_cast<unsigned char>(t + 1)};
            }
        });
    }
    for (auto& thread : threads) thread.join();
    std::set<Cap> all;
    std::set<const std::byte*> hosts;
    for (int t = 0; t < kThreads; ++t) {
        for (std::size_t i = 0; i < issued[t].size(); i += 2) {
            all.insert(issued[t][i]);
            all.insert(issued[t][i + 1]);
            hosts.insert(caps.frame_memory(issued[t][i])->data());
            EXPECT_EQ(caps.frame_memory(issued[t][i + 1])->front(), std::byte{static_cast<unsigned char>(t + 1)});
        }
    }
    EXPECT_EQ(all.size(), static_cast<std::size_t>(2 * kThreads * kPerThread));
    EXPECT_EQ(hosts.size(), static_cast<std::size_t>(kThreads * kPerThread)) << "no two frames share memory";
    for (Cap cap : all) ASSERT_TRUE(caps.remove(cap));
    EXPECT_EQ(caps.frame_bytes_in_use(), 0u);
}

}  // namespace
}  // namespace guestmem
