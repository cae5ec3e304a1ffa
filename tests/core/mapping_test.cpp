// SPDX-License-Identifier: BSD-2-Clause
// Mapping frames into reservations: iterator protocol, validation, all or
// nothing, rights, frame sizes, and what free does to mappings.
#include <gtest/gtest.h>

#include <stdexcept>

#include "test_support.hpp"

namespace guestmem {
namespace {

using test::CountingHandler;
using test::LogCapture;
using test::peek;
using test::poke;
using test::ScriptedIterator;
using test::SimVm;
using test::returns;

/// A device-like handler that records what faulted and answers reads with a marker.
struct Recorder {
    static constexpr std::uint64_t kMarker = 0xd0d0'd0d0'd0d0'd0d0ull;
    struct Seen {
        GuestAddr addr;
        std::size_t size;
        bool write;
        std::uint64_t data;
    };
    std::shared_ptr<std::vector<Seen>> seen = std::make_shared<std::vector<Seen>>();
    FaultHandler handler() const {
        return [seen = seen](Fault& f) {
            seen->push_back(Seen{f.address(), f.size(), f.is_write(), f.data()});
            if (f.is_read()) f.set_data(kMarker);
            return FaultResult::handled;
        };
    }
    std::size_t calls() const { return seen->size(); }
};

FrameRequest frame_at(Cap cap, GuestAddr addr, FrameSize size, Rights rights = Rights::all) {
    return FrameRequest{cap, rights, addr, bits_of(size)};
}

// ---------------------------------------------------------------------------
// Frames of every size

class FrameSizes : public ::testing::TestWithParam<FrameSize> {};

TEST_P(FrameSizes, MapAccessAndFreeTwoFrames) {
    const FrameSize size = GetParam();
    const std::uint64_t bytes = bytes_of(size);
    SimVm s;
    const std::uint64_t baseline = s.caps->frame_bytes_in_use();
    const GuestAddr base = 2 * bytes;  // aligned to the frame size
    CountingHandler ram_faults, unhandled;
    auto id = s.vm->reserve_at(base, 2 * bytes, ram_faults.handler());
    ASSERT_TRUE(id);
    s.vm->set_unhandled_fault_handler(unhandled.handler());
    const Cap f0 = s.frame(size), f1 = s.frame(size);
    ScriptedIterator it{{frame_at(f0, base, size), frame_at(f1, base + bytes, size)}};
    ASSERT_TRUE(s.vm->map(*id, it.iterator()));
    EXPECT_EQ(*it.asked, (std::vector<GuestAddr>{base, base + bytes})) << "first address, then just past each frame";
    auto info = s.vm->reservations().at(0);
    EXPECT_TRUE(info.mapped);
    EXPECT_EQ(info.frames, 2u);

    std::byte* m0 = s.memory(f0).data();
    std::byte* m1 = s.memory(f1).data();
    ASSERT_TRUE(sim::write(*s.vcpu, base, 8, 0x0102030405060708ull));
    EXPECT_EQ(peek(m0, 8), 0x0102030405060708ull);
    ASSERT_TRUE(sim::write(*s.vcpu, base + bytes - 2, 2, 0xbeef));
    EXPECT_EQ(peek(m0 + bytes - 2, 2), 0xbeefu);
    // An access crossing from one frame into the next (wherever they are in host memory).
    ASSERT_TRUE(sim::write(*s.vcpu, base + bytes - 4, 8, 0x8877665544332211ull));
    EXPECT_EQ(peek(m0 + bytes - 4, 4), 0x44332211u);
    EXPECT_EQ(peek(m1, 4), 0x88776655u);
    EXPECT_EQ(sim::read(*s.vcpu, base + bytes - 4, 8).value(), 0x8877665544332211ull);
    poke(m1 + bytes - 8, 8, 0xa1a2a3a4a5a6a7a8ull);
    EXPECT_EQ(sim::read(*s.vcpu, base + 2 * bytes - 8, 8).value(), 0xa1a2a3a4a5a6a7a8ull);
    EXPECT_EQ(sim::read(*s.vcpu, base + 2 * bytes - 1, 1).value(), 0xa1u);
    EXPECT_EQ(*ram_faults.calls, 0) << "mapped memory never faults";
    EXPECT_EQ(s.caps->frame_bytes_in_use(), baseline + 2 * bytes);

    // Free unmaps both frames but leaves the caller's capabilities (and data) alone.
    ASSERT_TRUE(s.vm->free(*id));
    ASSERT_TRUE(s.caps->lookup(f0));
    ASSERT_TRUE(s.caps->lookup(f1));
    EXPECT_EQ(peek(s.memory(f0).data(), 8), 0x0102030405060708ull);
    ASSERT_TRUE(sim::read(*s.vcpu, base, 8));
    EXPECT_EQ(*unhandled.calls, 1) << "after free the range is outside every reservation";
    EXPECT_EQ(*ram_faults.calls, 0);
    EXPECT_EQ(s.caps->frame_bytes_in_use(), baseline + 2 * bytes) << "the capabilities still hold the frames";
    ASSERT_TRUE(s.caps->remove(f0));
    ASSERT_TRUE(s.caps->remove(f1));
    EXPECT_EQ(s.caps->frame_bytes_in_use(), baseline) << "unmapped and deleted: the frames are gone";
}

INSTANTIATE_TEST_SUITE_P(AllSizes, FrameSizes, ::testing::Values(FrameSize::k4KiB, FrameSize::k2MiB, FrameSize::k1GiB),
                         [](const auto& info) { return "bits" + std::to_string(bits_of(info.param)); });

TEST(Mapping, FramesOfDifferentSizesInOneReservation) {
    SimVm s;
    // [0x1ff000, 0x401000): a 4 KiB page, a 2 MiB page, a 4 KiB page.
    Recorder device;
    auto id = s.vm->reserve_at(0x1ff000, 0x202000, device.handler());
    ASSERT_TRUE(id);
    const Cap a = s.frame(), b = s.frame(FrameSize::k2MiB), c = s.frame();
    ScriptedIterator it{{frame_at(a, 0x1ff000, FrameSize::k4KiB), frame_at(b, 0x200000, FrameSize::k2MiB),
                         frame_at(c, 0x400000, FrameSize::k4KiB)}};
    ASSERT_TRUE(s.vm->map(*id, it.iterator()));
    EXPECT_EQ(*it.asked, (std::vector<GuestAddr>{0x1ff000, 0x200000, 0x400000}));
    ASSERT_TRUE(sim::write(*s.vcpu, 0x1ffffc, 8, 0x1122334455667788ull));
    EXPECT_EQ(peek(s.memory(a).data() + 0xffc, 4), 0x55667788u);
    EXPECT_EQ(peek(s.memory(b).data(), 4), 0x11223344u);
    ASSERT_TRUE(sim::write(*s.vcpu, 0x3ffffe, 4, 0xaabbccdd));
    EXPECT_EQ(peek(s.memory(b).data() + 0x1ffffe, 2), 0xccddu);
    EXPECT_EQ(peek(s.memory(c).data(), 2), 0xaabbu);
    EXPECT_EQ(device.calls(), 0u);
}

// ---------------------------------------------------------------------------
// Bad frames: every rejection, each failing on the third frame so that the
// first two have been visited (all or nothing).

struct BadFrameCase {
    const char* name;
    Errc code;
    const char* reason;
    std::function<FrameRequest(SimVm&, GuestAddr)> make;
};

class BadFrame : public ::testing::TestWithParam<BadFrameCase> {};

TEST_P(BadFrame, FailsLeavesTheReservationUnmappedAndMappableAgain) {
    const BadFrameCase& c = GetParam();
    LogCapture log;
    SimVm s;
    // [0x1fe000, 0x202000): four pages; the third starts at 0x200000 (2 MiB aligned, not 1 GiB aligned).
    constexpr GuestAddr kBase = 0x1fe000;
    Recorder device;
    auto id = s.vm->reserve_at(kBase, 0x4000, device.handler());
    ASSERT_TRUE(id);
    std::vector<Cap> good;
    for (int i = 0; i < 4; ++i) good.push_back(s.frame());
    poke(s.memory(good[0]).data(), 8, 0x600d'600d'600d'600dull);
    const FrameRequest bad = c.make(s, kBase + 0x2000);
    auto asked = std::make_shared<std::vector<GuestAddr>>();
    auto iterator = [&, asked](GuestAddr addr) -> FrameRequest {
        asked->push_back(addr);
        if (asked->size() == 3) return bad;
        return frame_at(good[asked->size() - 1], addr, FrameSize::k4KiB);
    };

    auto mapped = s.vm->map(*id, iterator);
    ASSERT_FALSE(mapped);
    EXPECT_EQ(mapped.code(), c.code) << mapped.error().message;
    EXPECT_TRUE(log.has_error("Vm::map", {c.reason})) << log.dump();
    EXPECT_EQ(*asked, (std::vector<GuestAddr>{kBase, kBase + 0x1000, kBase + 0x2000})) << "stops at the bad frame";

    // Nothing is mapped, not even the frames visited before the bad one.
    auto info = s.vm->reservations().at(0);
    EXPECT_FALSE(info.mapped);
    EXPECT_FALSE(info.deferred);
    EXPECT_EQ(info.frames, 0u);
    EXPECT_EQ(sim::read(*s.vcpu, kBase, 8).value(), Recorder::kMarker);
    ASSERT_TRUE(sim::write(*s.vcpu, kBase, 8, 0));
    EXPECT_EQ(device.calls(), 2u);
    EXPECT_EQ(peek(s.memory(good[0]).data(), 8), 0x600d'600d'600d'600dull) << "the guest write did not reach the frame";
    for (Cap cap : good) EXPECT_TRUE(s.caps->lookup(cap)) << "a failed map deletes no capability";

    // The same reservation maps fine afterwards.
    asked->clear();
    ASSERT_TRUE(
        s.vm->map(*id, [&](GuestAddr addr) { return frame_at(good[(addr - kBase) >> 12], addr, FrameSize::k4KiB); }));
    EXPECT_EQ(sim::read(*s.vcpu, kBase, 8).value(), 0x600d'600d'600d'600dull);
    EXPECT_EQ(device.calls(), 2u);
}

INSTANTIATE_TEST_SUITE_P(
    Rejections, BadFrame,
    ::testing::Values(
        BadFrameCase{"null_cap", Errc::bad_capability, "capability is null",
                     [](SimVm&, GuestAddr a) { return frame_at(kNullCap, a, FrameSize::k4KiB); }},
        BadFrameCase{"deleted_cap", Errc::bad_capability, "is not live",
                     [](SimVm& s, GuestAddr a) {
                         const Cap cap = s.frame();
                         (void)s.caps->remove(cap);
                         return frame_at(cap, a, FrameSize::k4KiB);
                     }},
        BadFrameCase{"never_issued_cap", Errc::bad_capability, "is not live",
                     [](SimVm&, GuestAddr a) { return frame_at(0xdead'0000, a, FrameSize::k4KiB); }},
        BadFrameCase{"size_bits_13", Errc::bad_frame, "is not 12, 21 or 30",
                     [](SimVm& s, GuestAddr a) {
                         return FrameRequest{s.frame(), Rights::all, a, 13};
                     }},
        BadFrameCase{"size_bits_0", Errc::bad_frame, "is not 12, 21 or 30",
                     [](SimVm& s, GuestAddr a) {
                         return FrameRequest{s.frame(), Rights::all, a, 0};
                     }},
        BadFrameCase{"size_bits_64", Errc::bad_frame, "is not 12, 21 or 30",
                     [](SimVm& s, GuestAddr a) {
                         return FrameRequest{s.frame(), Rights::all, a, 64};
                     }},
        BadFrameCase{"size_bits_larger_than_frame", Errc::bad_frame, "names a frame of 4096 bytes",
                     [](SimVm& s, GuestAddr a) { return frame_at(s.frame(), a, FrameSize::k2MiB); }},
        BadFrameCase{"size_bits_smaller_than_frame", Errc::bad_frame, "names a frame of 2097152 bytes",
                     [](SimVm& s, GuestAddr a) {
                         return FrameRequest{s.frame(FrameSize::k2MiB), Rights::all, a, 12};
                     }},
        BadFrameCase{"vaddr_ahead", Errc::bad_frame, "frame vaddr is",
                     [](SimVm& s, GuestAddr a) { return frame_at(s.frame(), a + 0x1000, FrameSize::k4KiB); }},
        BadFrameCase{"vaddr_behind", Errc::bad_frame, "frame vaddr is",
                     [](SimVm& s, GuestAddr a) { return frame_at(s.frame(), a - 0x1000, FrameSize::k4KiB); }},
        BadFrameCase{"vaddr_zero", Errc::bad_frame, "frame vaddr is",
                     [](SimVm& s, GuestAddr) { return frame_at(s.frame(), 0, FrameSize::k4KiB); }},
        BadFrameCase{"unaligned", Errc::bad_frame, "not aligned",
                     [](SimVm& s, GuestAddr a) { return frame_at(s.frame(FrameSize::k1GiB), a, FrameSize::k1GiB); }},
        BadFrameCase{"past_the_end", Errc::bad_frame, "ends past the reservation",
                     [](SimVm& s, GuestAddr a) { return frame_at(s.frame(FrameSize::k2MiB), a, FrameSize::k2MiB); }}),
    [](const auto& info) { return std::string(info.param.name); });

TEST(Mapping, AnIteratorThatThrowsFailsTheMapCleanly) {
    LogCapture log;
    SimVm s;
    auto id = s.vm->reserve_at(0x10000, 0x2000, returns(FaultResult::ignore));
    const Cap f = s.frame();
    int calls = 0;
    auto mapped = s.vm->map(*id, [&](GuestAddr addr) -> FrameRequest {
        if (++calls == 2) throw std::runtime_error("out of frames");
        return frame_at(f, addr, FrameSize::k4KiB);
    });
    ASSERT_FALSE(mapped);
    EXPECT_EQ(mapped.code(), Errc::bad_frame);
    EXPECT_TRUE(log.has_error("Vm::map", {"threw", "out of frames"})) << log.dump();
    EXPECT_FALSE(s.vm->reservations().at(0).mapped);
}

TEST(Mapping, AnEmptyIteratorIsRejected) {
    LogCapture log;
    SimVm s;
    auto id = s.vm->reserve_at(0x10000, 0x1000, returns(FaultResult::ignore));
    auto mapped = s.vm->map(*id, MapIterator{});
    ASSERT_FALSE(mapped);
    EXPECT_EQ(mapped.code(), Errc::invalid_argument);
    EXPECT_TRUE(log.has_error("Vm::map", {"NULL"})) << log.dump();
}

TEST(Mapping, MappingTwiceFailsAndKeepsTheFirstMapping) {
    LogCapture log;
    SimVm s;
    auto id = s.vm->reserve_at(0x10000, 0x1000, returns(FaultResult::error));
    const Cap first = s.frame(), second = s.frame();
    poke(s.memory(first).data(), 4, 0x1111'1111);
    poke(s.memory(second).data(), 4, 0x2222'2222);
    ASSERT_TRUE(s.vm->map(*id, [&](GuestAddr a) { return frame_at(first, a, FrameSize::k4KiB); }));
    int calls = 0;
    auto again = s.vm->map(*id, [&](GuestAddr a) {
        ++calls;
        return frame_at(second, a, FrameSize::k4KiB);
    });
    ASSERT_FALSE(again);
    EXPECT_EQ(again.code(), Errc::already_mapped);
    EXPECT_EQ(calls, 0) << "the iterator of a refused map is never called";
    const Cap frames[] = {second};
    EXPECT_EQ(s.vm->map_frames(*id, frames, 12).code(), Errc::already_mapped);
    EXPECT_TRUE(log.has_error("Vm::map", {"already mapped"})) << log.dump();
    EXPECT_TRUE(log.has_error("Vm::map_frames", {"already mapped"})) << log.dump();
    EXPECT_EQ(sim::read(*s.vcpu, 0x10000, 4).value(), 0x1111'1111u);
}

TEST(Mapping, UnknownOrFreedReservationsCannotBeMapped) {
    LogCapture log;
    SimVm s;
    auto id = s.vm->reserve_at(0x10000, 0x1000, returns(FaultResult::error));
    ASSERT_TRUE(s.vm->free(*id));
    const Cap f = s.frame();
    EXPECT_EQ(s.vm->map(*id, [&](GuestAddr a) { return frame_at(f, a, FrameSize::k4KiB); }).code(),
              Errc::unknown_reservation);
    const Cap frames[] = {f};
    EXPECT_EQ(s.vm->map_frames(*id, frames, 12).code(), Errc::unknown_reservation);
}

// ---------------------------------------------------------------------------
// Rights: the frame's requested rights intersected with its capability's.

struct RightsCase {
    const char* name;
    Rights requested;
    Rights cap;
    Rights effective;  // read_write, read or none
};

class MappingRights : public ::testing::TestWithParam<RightsCase> {};

TEST_P(MappingRights, DecideWhatGoesToMemoryAndWhatFaults) {
    const RightsCase& c = GetParam();
    SimVm s;
    Recorder device;
    auto id = s.vm->reserve_at(0x10000, 0x1000, device.handler());
    const Cap frame = s.frame();
    const Cap cap = *s.caps->copy(frame, c.cap);
    std::byte* mem = s.memory(frame).data();
    poke(mem + 0x10, 4, 0x11223344);
    ASSERT_TRUE(s.vm->map(*id, [&](GuestAddr a) { return frame_at(cap, a, FrameSize::k4KiB, c.requested); }));

    auto info = s.vm->reservations().at(0);
    EXPECT_TRUE(info.mapped) << "mapped, even when nothing became guest memory";
    if (c.effective == Rights::none) {
        EXPECT_TRUE(info.runs.empty());
    } else {
        ASSERT_EQ(info.runs.size(), 1u);
        EXPECT_EQ(info.runs[0].rights, c.effective);
    }

    const bool readable = has_rights(c.effective, Rights::read);
    const bool writable = has_rights(c.effective, Rights::write);
    EXPECT_EQ(sim::read(*s.vcpu, 0x10010, 4).value(), readable ? 0x11223344u : (Recorder::kMarker & 0xffffffffu));
    ASSERT_TRUE(sim::write(*s.vcpu, 0x10010, 4, 0xcafef00d));
    EXPECT_EQ(peek(mem + 0x10, 4), writable ? 0xcafef00du : 0x11223344u);
    std::size_t expected_faults = (readable ? 0 : 1) + (writable ? 0 : 1);
    ASSERT_EQ(device.calls(), expected_faults);
    if (!writable) {
        const auto& write = device.seen->back();
        EXPECT_TRUE(write.write);
        EXPECT_EQ(write.addr, 0x10010u);
        EXPECT_EQ(write.size, 4u);
        EXPECT_EQ(write.data, 0xcafef00du) << "the callback sees the value the guest wrote";
    }
}

INSTANTIATE_TEST_SUITE_P(Matrix, MappingRights,
                         ::testing::Values(RightsCase{"all_all", Rights::all, Rights::all, Rights::read_write},
                                           RightsCase{"rw_all", Rights::read_write, Rights::all, Rights::read_write},
                                           RightsCase{"all_rw", Rights::all, Rights::read_write, Rights::read_write},
                                           RightsCase{"read_all", Rights::read, Rights::all, Rights::read},
                                           RightsCase{"all_read", Rights::all, Rights::read, Rights::read},
                                           RightsCase{"rw_readcap", Rights::read_write, Rights::read, Rights::read},
                                           RightsCase{"write_all", Rights::write, Rights::all, Rights::none},
                                           RightsCase{"all_write", Rights::all, Rights::write, Rights::none},
                                           RightsCase{"read_writecap", Rights::read, Rights::write, Rights::none},
                                           RightsCase{"none_all", Rights::none, Rights::all, Rights::none},
                                           RightsCase{"all_none", Rights::all, Rights::none, Rights::none},
                                           RightsCase{"grant_all", Rights::grant, Rights::all, Rights::none}),
                         [](const auto& info) { return std::string(info.param.name); });

TEST(MappingRights, ACopyCannotRegainRights) {
    SimVm s;
    Recorder device;
    auto id = s.vm->reserve_at(0x10000, 0x1000, device.handler());
    const Cap frame = s.frame();
    const Cap ro = *s.caps->copy(frame, Rights::read);
    const Cap widened = *s.caps->copy(ro, Rights::all);
    ASSERT_TRUE(s.vm->map(*id, [&](GuestAddr a) { return frame_at(widened, a, FrameSize::k4KiB); }));
    ASSERT_TRUE(sim::write(*s.vcpu, 0x10000, 4, 1));
    EXPECT_EQ(device.calls(), 1u) << "the write faulted: the mapping is read-only";
    EXPECT_EQ(peek(s.memory(frame).data(), 4), 0u);
}

TEST(MappingRights, RightsMayDifferFrameByFrame) {
    SimVm s;
    Recorder device;
    auto id = s.vm->reserve_at(0x10000, 0x3000, device.handler());
    const Cap rw = s.frame(), ro = s.frame(), none = s.frame();
    for (Cap c : {rw, ro, none}) poke(s.memory(c).data(), 4, 0x5555'5555);
    ScriptedIterator it{{frame_at(rw, 0x10000, FrameSize::k4KiB, Rights::read_write),
                         frame_at(ro, 0x11000, FrameSize::k4KiB, Rights::read),
                         frame_at(none, 0x12000, FrameSize::k4KiB, Rights::write)}};
    ASSERT_TRUE(s.vm->map(*id, it.iterator()));
    for (GuestAddr page : {0x10000ull, 0x11000ull, 0x12000ull}) {
        (void)sim::read(*s.vcpu, page, 4);
        (void)sim::write(*s.vcpu, page, 4, 0x7777'7777);
    }
    ASSERT_EQ(device.calls(), 3u);  // ro write, none read, none write
    EXPECT_EQ((*device.seen)[0].addr, 0x11000u);
    EXPECT_TRUE((*device.seen)[0].write);
    EXPECT_EQ((*device.seen)[1].addr, 0x12000u);
    EXPECT_FALSE((*device.seen)[1].write);
    EXPECT_EQ((*device.seen)[2].addr, 0x12000u);
    EXPECT_TRUE((*device.seen)[2].write);
    EXPECT_EQ(peek(s.memory(rw).data(), 4), 0x7777'7777u);
    EXPECT_EQ(peek(s.memory(ro).data(), 4), 0x5555'5555u);
    EXPECT_EQ(peek(s.memory(none).data(), 4), 0x5555'5555u);
}

// ---------------------------------------------------------------------------
// Accesses that straddle two frames.

TEST(MappingStraddle, AcrossFramesThatAreNotContiguousInHostMemory) {
    SimVm s;
    Recorder device;
    auto id = s.vm->reserve_at(0x10000, 0x2000, device.handler());
    const Cap f0 = s.frame(), f1 = s.frame(), f2 = s.frame();
    (void)f1;
    // f2 then f0: guest-contiguous, host-discontiguous in either order.
    ScriptedIterator it{{frame_at(f2, 0x10000, FrameSize::k4KiB), frame_at(f0, 0x11000, FrameSize::k4KiB)}};
    ASSERT_TRUE(s.vm->map(*id, it.iterator()));
    EXPECT_EQ(s.vm->reservations().at(0).runs.size(), 2u);
    ASSERT_TRUE(sim::write(*s.vcpu, 0x10ffc, 8, 0x8877665544332211ull));
    EXPECT_EQ(peek(s.memory(f2).data() + 0xffc, 4), 0x44332211u);
    EXPECT_EQ(peek(s.memory(f0).data(), 4), 0x88776655u);
    EXPECT_EQ(sim::read(*s.vcpu, 0x10ffc, 8).value(), 0x8877665544332211ull);
    EXPECT_EQ(sim::read(*s.vcpu, 0x10fff, 2).value(), 0x5544u);
    EXPECT_EQ(sim::read(*s.vcpu, 0x10ffe, 4).value(), 0x66554433u);
    EXPECT_EQ(device.calls(), 0u);
}

TEST(MappingStraddle, IntoAReadOnlyFrameAWriteFaultsAsAWhole) {
    SimVm s;
    Recorder device;
    auto id = s.vm->reserve_at(0x10000, 0x2000, device.handler());
    const Cap rw = s.frame(), ro = s.frame();
    poke(s.memory(rw).data() + 0xffc, 4, 0xaaaa'aaaa);
    poke(s.memory(ro).data(), 4, 0xbbbb'bbbb);
    ScriptedIterator it{
        {frame_at(rw, 0x10000, FrameSize::k4KiB), frame_at(ro, 0x11000, FrameSize::k4KiB, Rights::read)}};
    ASSERT_TRUE(s.vm->map(*id, it.iterator()));
    ASSERT_TRUE(sim::write(*s.vcpu, 0x10ffc, 8, 0));
    ASSERT_EQ(device.calls(), 1u);
    EXPECT_EQ((*device.seen)[0].addr, 0x10ffcu);
    EXPECT_EQ((*device.seen)[0].size, 8u);
    EXPECT_EQ(peek(s.memory(rw).data() + 0xffc, 4), 0xaaaa'aaaau) << "no half-done write";
    EXPECT_EQ(peek(s.memory(ro).data(), 4), 0xbbbb'bbbbu);
    EXPECT_EQ(sim::read(*s.vcpu, 0x10ffc, 8).value(), 0xbbbb'bbbb'aaaa'aaaaull) << "reads need only read rights";
    EXPECT_EQ(device.calls(), 1u);
}

TEST(MappingStraddle, IntoAnUnmappedFrameEveryAccessFaults) {
    SimVm s;
    Recorder device;
    auto id = s.vm->reserve_at(0x10000, 0x2000, device.handler());
    const Cap rw = s.frame(), hidden = s.frame();
    ScriptedIterator it{
        {frame_at(rw, 0x10000, FrameSize::k4KiB), frame_at(hidden, 0x11000, FrameSize::k4KiB, Rights::none)}};
    ASSERT_TRUE(s.vm->map(*id, it.iterator()));
    EXPECT_EQ(sim::read(*s.vcpu, 0x10ffe, 4).value(), Recorder::kMarker & 0xffffffffu);
    ASSERT_TRUE(sim::write(*s.vcpu, 0x10ffe, 4, 0x12345678));
    EXPECT_EQ(device.calls(), 2u);
    EXPECT_EQ(peek(s.memory(rw).data() + 0xffe, 2), 0u);
}

// ---------------------------------------------------------------------------
// map_frames

TEST(MapFrames, MapsFrameIAtBasePlusIShiftedWithAllRights) {
    SimVm s;
    auto id = s.vm->reserve_at(0x40000, 0x3000, returns(FaultResult::error));
    const Cap f[3] = {s.frame(), s.frame(), s.frame()};
    ASSERT_TRUE(s.vm->map_frames(*id, f, 12));
    for (int i = 0; i < 3; ++i) {
        ASSERT_TRUE(sim::write(*s.vcpu, 0x40000 + i * 0x1000 + 8, 4, 0x100u + i));
        EXPECT_EQ(peek(s.memory(f[i]).data() + 8, 4), 0x100u + i);
    }
    auto info = s.vm->reservations().at(0);
    EXPECT_EQ(info.frames, 3u);
    for (const auto& run : info.runs) EXPECT_EQ(run.rights, Rights::read_write);
}

TEST(MapFrames, RejectsArraysThatDoNotCoverTheReservationExactly) {
    LogCapture log;
    SimVm s;
    CountingHandler device;
    auto id = s.vm->reserve_at(0x40000, 0x2000, device.handler());
    auto odd = s.vm->reserve_at(0x50000, 0x1800, device.handler());
    const Cap f[3] = {s.frame(), s.frame(), s.frame()};
    struct Case {
        ReservationId id;
        std::span<const Cap> frames;
        std::size_t bits;
        const char* reason;
    };
    for (const Case& c :
         {Case{*id, std::span(f, 1), 12, "do not cover"}, Case{*id, std::span(f, 3), 12, "do not cover"},
          Case{*id, std::span<const Cap>(), 12, "do not cover"}, Case{*id, std::span(f, 2), 13, "is not 12, 21 or 30"},
          Case{*id, std::span(f, 2), 64, "is not 12, 21 or 30"}, Case{*odd, std::span(f, 1), 12, "do not cover"},
          Case{*odd, std::span(f, 2), 12, "do not cover"}}) {
        SCOPED_TRACE(c.reason);
        auto mapped = s.vm->map_frames(c.id, c.frames, c.bits);
        ASSERT_FALSE(mapped);
        EXPECT_EQ(mapped.code(), Errc::invalid_argument);
        EXPECT_TRUE(log.has_error("Vm::map_frames", {c.reason})) << log.dump();
    }
    for (const auto& info : s.vm->reservations()) EXPECT_FALSE(info.mapped);
    ASSERT_TRUE(s.vm->map_frames(*id, std::span(f, 2), 12));
}

TEST(MapFrames, ABadCapabilityInTheArrayMapsNothing) {
    LogCapture log;
    SimVm s;
    CountingHandler device;
    auto id = s.vm->reserve_at(0x40000, 0x3000, device.handler());
    Cap f[3] = {s.frame(), s.frame(), s.frame()};
    const Cap dead = f[2];
    ASSERT_TRUE(s.caps->remove(dead));
    auto mapped = s.vm->map_frames(*id, f, 12);
    ASSERT_FALSE(mapped);
    EXPECT_EQ(mapped.code(), Errc::bad_capability);
    EXPECT_TRUE(log.has_error("Vm::map_frames", {"is not live"})) << log.dump();
    ASSERT_TRUE(sim::write(*s.vcpu, 0x40000, 4, 9));
    EXPECT_EQ(*device.calls, 1);
    EXPECT_EQ(peek(s.memory(f[0]).data(), 4), 0u);
    f[2] = s.frame();
    EXPECT_TRUE(s.vm->map_frames(*id, f, 12));
}

TEST(MapFrames, FramesOfTheWrongSizeOrAlignmentAreRejected) {
    LogCapture log;
    SimVm s;
    auto unaligned = s.vm->reserve_at(0x201000, 0x200000, returns(FaultResult::error));
    const Cap large[] = {s.frame(FrameSize::k2MiB)};
    auto a = s.vm->map_frames(*unaligned, large, 21);
    ASSERT_FALSE(a);
    EXPECT_EQ(a.code(), Errc::bad_frame);
    EXPECT_TRUE(log.has_error("Vm::map_frames", {"not aligned"})) << log.dump();

    auto aligned = s.vm->reserve_at(0x600000, 0x200000, returns(FaultResult::error));
    const Cap small[] = {s.frame()};
    auto b = s.vm->map_frames(*aligned, small, 21);
    ASSERT_FALSE(b);
    EXPECT_EQ(b.code(), Errc::bad_frame);
    EXPECT_TRUE(log.has_error("Vm::map_frames", {"names a frame of 4096 bytes"})) << log.dump();
    EXPECT_TRUE(s.vm->map_frames(*aligned, large, 21));
}

TEST(MapFrames, ReadOnlyCapabilitiesGiveReadOnlyMappings) {
    SimVm s;
    CountingHandler device;
    auto id = s.vm->reserve_at(0x40000, 0x1000, device.handler());
    const Cap frame = s.frame();
    const Cap ro[] = {*s.caps->copy(frame, Rights::read)};
    ASSERT_TRUE(s.vm->map_frames(*id, ro, 12));
    ASSERT_TRUE(sim::write(*s.vcpu, 0x40000, 4, 1));
    EXPECT_EQ(*device.calls, 1);
    EXPECT_EQ(peek(s.memory(frame).data(), 4), 0u);
}

// ---------------------------------------------------------------------------
// Frame lifetime and sharing within one VM.

TEST(MappingLifetime, AFrameLivesOnWhileMappedAfterItsCapabilityIsDeleted) {
    SimVm s;
    const std::uint64_t baseline = s.caps->frame_bytes_in_use();
    auto ram = s.vm->reserve_at(0x400000, 0x200000, returns(FaultResult::error));
    const Cap frame = s.frame(FrameSize::k2MiB);
    const Cap frames[] = {frame};
    ASSERT_TRUE(s.vm->map_frames(*ram, frames, 21));
    ASSERT_TRUE(s.caps->remove(frame));
    EXPECT_FALSE(s.caps->lookup(frame));
    EXPECT_EQ(s.caps->frame_bytes_in_use(), baseline + 0x200000) << "the mapping holds the frame";
    ASSERT_TRUE(sim::write(*s.vcpu, 0x5ffff8, 8, 0x0123456789abcdefull));
    EXPECT_EQ(sim::read(*s.vcpu, 0x5ffff8, 8).value(), 0x0123456789abcdefull);
    ASSERT_TRUE(s.vm->free(*ram));
    EXPECT_EQ(s.caps->frame_bytes_in_use(), baseline) << "unmapping the last holder frees the frame";
}

TEST(MappingLifetime, OneFrameInTwoReservationsIsOneMemory) {
    SimVm s;
    auto a = s.vm->reserve_at(0x10000, 0x1000, returns(FaultResult::error));
    auto b = s.vm->reserve_at(0x80000, 0x1000, returns(FaultResult::error));
    const Cap frame = s.frame();
    const Cap frames[] = {frame};
    ASSERT_TRUE(s.vm->map_frames(*a, frames, 12));
    ASSERT_TRUE(s.vm->map_frames(*b, frames, 12));
    ASSERT_TRUE(sim::write(*s.vcpu, 0x10040, 8, 0xfeedface'cafebeefull));
    EXPECT_EQ(sim::read(*s.vcpu, 0x80040, 8).value(), 0xfeedface'cafebeefull);
    ASSERT_TRUE(s.vm->free(*a));
    ASSERT_TRUE(sim::write(*s.vcpu, 0x80040, 4, 7));
    EXPECT_EQ(peek(s.memory(frame).data() + 0x40, 4), 7u) << "freeing one mapping leaves the other";
}

TEST(MappingRuns, ContiguousFramesWithEqualRightsBecomeOneRun) {
    SimVm s;
    auto id = s.vm->reserve_at(0x100000, 0x4000, returns(FaultResult::error));
    const Cap f[4] = {s.frame(), s.frame(), s.frame(), s.frame()};
    const Rights rights[4] = {Rights::all, Rights::all, Rights::read, Rights::read};
    ASSERT_TRUE(s.vm->map(*id, [&](GuestAddr a) {
        const std::size_t i = (a - 0x100000) >> 12;
        return frame_at(f[i], a, FrameSize::k4KiB, rights[i]);
    }));
    // Count the runs a correct merge must produce, from the frames' host addresses.
    std::size_t expected = 1;
    for (int i = 1; i < 4; ++i) {
        const bool host_adjacent = s.memory(f[i]).data() == s.memory(f[i - 1]).data() + 0x1000;
        if (!host_adjacent || rights[i] != rights[i - 1]) ++expected;
    }
    auto runs = s.vm->reservations().at(0).runs;
    ASSERT_EQ(runs.size(), expected);
    std::uint64_t covered = 0;
    GuestAddr next = 0x100000;
    for (const auto& run : runs) {
        EXPECT_EQ(run.gpa, next);
        next = run.end();
        covered += run.size;
    }
    EXPECT_EQ(covered, 0x4000u);
    EXPECT_EQ(runs.front().rights, Rights::read_write);
    EXPECT_EQ(runs.back().rights, Rights::read);
}

TEST(MappingLookup, FindRunSeesMappedMemoryOnly) {
    SimVm s;
    auto id = s.vm->reserve_at(0x100000, 0x2000, returns(FaultResult::error));
    const Cap f = s.frame(), g = s.frame();
    ScriptedIterator it{
        {frame_at(f, 0x100000, FrameSize::k4KiB), frame_at(g, 0x101000, FrameSize::k4KiB, Rights::none)}};
    ASSERT_TRUE(s.vm->map(*id, it.iterator()));
    auto run = s.vm->find_run(0x100123);
    ASSERT_TRUE(run);
    EXPECT_EQ(run->gpa, 0x100000u);
    EXPECT_EQ(run->host, s.memory(f).data());
    EXPECT_FALSE(s.vm->find_run(0x101000)) << "a frame without read rights is not memory";
    EXPECT_FALSE(s.vm->find_run(0x200000));
    ASSERT_TRUE(s.vm->free(*id));
    EXPECT_FALSE(s.vm->find_run(0x100123));
}

}  // namespace
}  // namespace guestmem
