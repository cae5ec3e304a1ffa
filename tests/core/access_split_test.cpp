// SPDX-License-Identifier: BSD-2-Clause
// An access that crosses owners is split as hardware splits it: one piece per
// owner in ascending address order, odd-sized parts as aligned pieces, reads
// assembled little-endian; and the last page of the address space is legal.
#include <gtest/gtest.h>

#include <vector>

#include "access_split.hpp"
#include "test_support.hpp"

#include <sel4vm/guest_memory.h>
#include <sel4vm/guest_ram.h>
#include <sel4vm/guestmem.h>

namespace guestmem {
namespace {

using test::LogCapture;
using test::peek;
using test::SimVm;

/// The pieces first_piece_size cuts a part of `size` bytes at `addr` into.
std::vector<std::pair<GuestAddr, unsigned>> pieces(GuestAddr addr, std::uint64_t size) {
    std::vector<std::pair<GuestAddr, unsigned>> out;
    for (std::uint64_t done = 0; done < size;) {
        const unsigned piece = first_piece_size(addr + done, size - done);
        out.emplace_back(addr + done, piece);
        done += piece;
    }
    return out;
}
using Pieces = std::vector<std::pair<GuestAddr, unsigned>>;

TEST(AccessSplit, PartsOfNativeSizeStayWhole) {
    EXPECT_EQ(pieces(0x1000, 1), (Pieces{{0x1000, 1}}));
    EXPECT_EQ(pieces(0x1003, 4), (Pieces{{0x1003, 4}}));  // unaligned, as the guest made it
    EXPECT_EQ(pieces(0x1ffc, 8), (Pieces{{0x1ffc, 8}}));
}

TEST(AccessSplit, OddSizedPartsBecomeAlignedPieces) {
    EXPECT_EQ(pieces(0xffd, 3), (Pieces{{0xffd, 1}, {0xffe, 2}}));
    EXPECT_EQ(pieces(0x1000, 3), (Pieces{{0x1000, 2}, {0x1002, 1}}));
    EXPECT_EQ(pieces(0x1001, 7), (Pieces{{0x1001, 1}, {0x1002, 2}, {0x1004, 4}}));
    EXPECT_EQ(pieces(0x1000, 6), (Pieces{{0x1000, 4}, {0x1004, 2}}));
    EXPECT_EQ(pieces(0x1003, 5), (Pieces{{0x1003, 1}, {0x1004, 4}}));
}

TEST(AccessSplit, BytesHeldStopAtTheOwnersLastAddress) {
    EXPECT_EQ(bytes_held(0xffc, 0xfff, 8), 4u);
    EXPECT_EQ(bytes_held(0xffc, 0x1fff, 8), 8u);
    EXPECT_EQ(bytes_held(~0ull - 3, ~0ull, 8), 4u) << "an owner ending at 2^64";
    EXPECT_EQ(bytes_held(0, ~0ull, 8), 8u) << "an owner of the whole space";
}

/// One access a handler saw.
struct Seen {
    GuestAddr addr;
    std::size_t size;
    bool is_write;
    std::uint64_t data;
    friend bool operator==(const Seen&, const Seen&) = default;
};

/// The value whose byte at each address is that address's low byte: what a
/// PatternDevice returns, so a read assembled from pieces can be checked
/// against the same function over the whole access.
std::uint64_t pattern(GuestAddr addr, std::size_t size) {
    std::uint64_t v = 0;
    for (std::size_t i = 0; i < size; ++i) v |= std::uint64_t{(addr + i) & 0xff} << (8 * i);
    return v;
}

/// A device (or unhandled-fault handler) recording what it sees and reading as pattern().
struct PatternDevice {
    std::shared_ptr<std::vector<Seen>> seen = std::make_shared<std::vector<Seen>>();
    FaultResult result = FaultResult::handled;
    FaultHandler handler() const {
        return [seen = seen, result = result](Fault& f) {
            seen->push_back({f.address(), f.size(), f.is_write(), f.data()});
            if (f.is_read()) f.set_data(pattern(f.address(), f.size()));
            return result;
        };
    }
};

struct SplitTest : ::testing::Test {
    SimVm s;
    Cap map_ram(GuestAddr addr) {
        auto id = s.vm->reserve_at(addr, 0x1000, test::returns(FaultResult::error));
        EXPECT_TRUE(id);
        const Cap frame[] = {s.frame()};
        EXPECT_TRUE(s.vm->map_frames(*id, frame, 12));
        return frame[0];
    }
};

TEST_F(SplitTest, AReadAcrossTwoDevicesIsOnePiecePerDeviceAssembledLittleEndian) {
    PatternDevice device, neighbour, unhandled;
    ASSERT_TRUE(s.vm->reserve_at(0x1000, 4, device.handler()));
    ASSERT_TRUE(s.vm->reserve_at(0x1004, 4, neighbour.handler()));
    s.vm->set_unhandled_fault_handler(unhandled.handler());

    EXPECT_EQ(sim::read(*s.vcpu, 0x1002, 4).value(), pattern(0x1002, 4));  // into the neighbour
    EXPECT_EQ(sim::read(*s.vcpu, 0x1006, 4).value(), pattern(0x1006, 4));  // past it into nothing
    EXPECT_EQ(sim::read(*s.vcpu, 0x0fff, 2).value(), pattern(0x0fff, 2));  // from nothing into the device
    EXPECT_EQ(sim::read(*s.vcpu, 0x0ffd, 8).value(), pattern(0x0ffd, 8));  // nothing, device, neighbour

    EXPECT_EQ(*device.seen, (std::vector<Seen>{{0x1002, 2, false, 0}, {0x1000, 1, false, 0}, {0x1000, 4, false, 0}}));
    EXPECT_EQ(*neighbour.seen,
              (std::vector<Seen>{{0x1004, 2, false, 0}, {0x1006, 2, false, 0}, {0x1004, 1, false, 0}}));
    EXPECT_EQ(*unhandled.seen,
              (std::vector<Seen>{
                  {0x1008, 2, false, 0}, {0x0fff, 1, false, 0}, {0x0ffd, 1, false, 0}, {0x0ffe, 2, false, 0}}));
}

TEST_F(SplitTest, AWriteAcrossTwoDevicesGivesEachOnlyItsBytes) {
    PatternDevice device, neighbour;
    ASSERT_TRUE(s.vm->reserve_at(0x1000, 4, device.handler()));
    ASSERT_TRUE(s.vm->reserve_at(0x1004, 4, neighbour.handler()));
    ASSERT_TRUE(sim::write(*s.vcpu, 0x1001, 8, 0x8877665544332211ull).ok() == false)
        << "the last byte, at 0x1008, has no owner and no unhandled-fault callback";
    EXPECT_EQ(*device.seen, (std::vector<Seen>{{0x1001, 1, true, 0x11}, {0x1002, 2, true, 0x3322}}));
    EXPECT_EQ(*neighbour.seen, (std::vector<Seen>{{0x1004, 4, true, 0x77665544}}));
}

TEST_F(SplitTest, TheIssuesInputReadsEightBytesAcrossTwoRamRegistrations) {
    // vm_ram_register_at twice, then an 8-byte read across the seam (C interface).
    vm_t* vm = vm_create(VM_BACKEND_SIM);
    ASSERT_NE(vm, nullptr);
    ASSERT_EQ(vm_memory_init(vm), 0);
    ASSERT_EQ(vm_ram_register_at(vm, 0, 0x1000, false), 0);
    ASSERT_EQ(vm_ram_register_at(vm, 0x1000, 0x1000, false), 0);
    vm_vcpu_t* vcpu = vm_create_vcpu(vm, 0);
    ASSERT_NE(vcpu, nullptr);
    const std::uint8_t bytes[8] = {0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef};
    ASSERT_EQ(vm_ram_touch(vm, 0xffc, 8, vm_guest_ram_write_callback, const_cast<std::uint8_t*>(bytes)), 0);
    std::uint64_t v = 0;
    ASSERT_EQ(vm_sim_access(vcpu, 0xffc, 8, false, &v), 0);
    EXPECT_EQ(v, 0xefcdab8967452301ull);
    // And the other way: a write across the seam lands in both registrations.
    std::uint64_t w = 0x1122334455667788ull;
    ASSERT_EQ(vm_sim_access(vcpu, 0xffe, 8, true, &w), 0);
    ASSERT_EQ(vm_sim_access(vcpu, 0xffe, 8, false, &v), 0);
    EXPECT_EQ(v, w);
    vm_destroy(vm);
}

TEST_F(SplitTest, MemoryPartsGoToMemoryAndTheRestToItsOwner) {
    const Cap ram = map_ram(0x10000);
    PatternDevice device;
    ASSERT_TRUE(s.vm->reserve_at(0x11000, 0x10, device.handler()));
    ASSERT_TRUE(sim::write(*s.vcpu, 0x10ffc, 8, 0x1122334455667788ull));
    EXPECT_EQ(peek(s.memory(ram).data() + 0xffc, 4), 0x55667788u);
    EXPECT_EQ(*device.seen, (std::vector<Seen>{{0x11000, 4, true, 0x11223344}}));
    test::poke(s.memory(ram).data() + 0xffe, 2, 0xbeef);
    EXPECT_EQ(sim::read(*s.vcpu, 0x10ffe, 4).value(), (pattern(0x11000, 2) << 16) | 0xbeef);
}

TEST_F(SplitTest, AFailingPartEndsTheAccessAndEarlierPartsStayWritten) {
    LogCapture log;
    const Cap ram = map_ram(0x10000);
    PatternDevice device;
    device.result = FaultResult::error;
    ASSERT_TRUE(s.vm->reserve_at(0x11000, 0x10, device.handler()));
    const GuestAddr ip = s.ip();
    EXPECT_EQ(sim::write(*s.vcpu, 0x10ffe, 4, 0xaabbccdd).code(), Errc::fault_error);
    EXPECT_EQ(peek(s.memory(ram).data() + 0xffe, 2), 0xccddu) << "written before the device failed, as on hardware";
    EXPECT_EQ(s.ip(), ip) << "the vCPU does not advance past a failed access";
    EXPECT_TRUE(log.has_error("sim::write", {"write of 2 bytes at 0x11000", "FAULT_ERROR"})) << log.dump();
    EXPECT_EQ(log.error_count(), 1u) << "logged once, where the access ended\n" << log.dump();
    Access again{0x10ffe, 4, true, 0xaabbccdd};
    const AccessOutcome outcome = s.vm->dispatch(*s.vcpu, again);
    ASSERT_TRUE(outcome.failure);
    EXPECT_EQ(outcome.failure->access.addr, 0x11000u) << "the report names the failed piece";
    EXPECT_EQ(outcome.failure->access.size, 2u);
}

TEST_F(SplitTest, ADeferredPartIsMappedFirstThenCompletedFromMemory) {
    s.vm->set_deferred_mapping(true);
    auto a = s.vm->reserve_at(0x10000, 0x1000, test::returns(FaultResult::error));
    auto b = s.vm->reserve_at(0x11000, 0x1000, test::returns(FaultResult::error));
    const Cap fa[] = {s.frame()}, fb[] = {s.frame()};
    ASSERT_TRUE(s.vm->map_frames(*a, fa, 12));
    ASSERT_TRUE(s.vm->map_frames(*b, fb, 12));
    ASSERT_TRUE(sim::write(*s.vcpu, 0x10ffc, 8, 0x0102030405060708ull));
    EXPECT_EQ(peek(s.memory(fa[0]).data() + 0xffc, 4), 0x05060708u);
    EXPECT_EQ(peek(s.memory(fb[0]).data(), 4), 0x01020304u);
    for (const auto& r : s.vm->reservations()) EXPECT_FALSE(r.deferred);
    EXPECT_EQ(sim::read(*s.vcpu, 0x10ffc, 8).value(), 0x0102030405060708ull);
}

TEST_F(SplitTest, ARestartInOnePartRetriesThatPartOnly) {
    PatternDevice first;
    int restarts = 0;
    ASSERT_TRUE(s.vm->reserve_at(0x1000, 4, first.handler()));
    ASSERT_TRUE(s.vm->reserve_at(0x1004, 4, [&](Fault& f) {
        if (restarts++ == 0) return FaultResult::restart;
        f.set_data(pattern(f.address(), f.size()));
        return FaultResult::handled;
    }));
    EXPECT_EQ(sim::read(*s.vcpu, 0x1002, 4).value(), pattern(0x1002, 4));
    EXPECT_EQ(restarts, 2);
    EXPECT_EQ(first.seen->size(), 1u) << "the completed first part is not performed again";
}

// ---------------------------------------------------------------------------
// The top of the address space

constexpr GuestAddr kTopPage = ~std::uint64_t{0xfff};

TEST_F(SplitTest, TheLastPageCanBeReservedMappedAndAccessed) {
    PatternDevice device;
    auto id = s.vm->reserve_at(kTopPage, 0x1000, device.handler());
    ASSERT_TRUE(id) << id.error().message;
    EXPECT_EQ(s.vm->region(*id).value(), (Range{kTopPage, 0x1000}));
    EXPECT_EQ(sim::read(*s.vcpu, ~0ull, 1).value(), pattern(~0ull, 1));
    EXPECT_EQ(sim::read(*s.vcpu, ~0ull - 7, 8).value(), pattern(~0ull - 7, 8));
    EXPECT_EQ(*device.seen, (std::vector<Seen>{{~0ull, 1, false, 0}, {~0ull - 7, 8, false, 0}}));
    EXPECT_EQ(s.vm->reserve_at(~0ull, 1, device.handler()).code(), Errc::overlap);

    ASSERT_TRUE(s.vm->free(*id));
    auto ram = s.vm->reserve_at(kTopPage, 0x1000, test::returns(FaultResult::error));
    ASSERT_TRUE(ram);
    const Cap frame[] = {s.frame()};
    ASSERT_TRUE(s.vm->map_frames(*ram, frame, 12)) << "frames map up to 2^64";
    ASSERT_TRUE(sim::write(*s.vcpu, ~0ull - 3, 4, 0xfeedf00d));
    EXPECT_EQ(peek(s.memory(frame[0]).data() + 0xffc, 4), 0xfeedf00du);
    EXPECT_EQ(s.vm->reservations().back().range, (Range{kTopPage, 0x1000}));
}

TEST_F(SplitTest, AnAccessToTheLastByteReachesTheUnhandledCallback) {
    PatternDevice unhandled;
    s.vm->set_unhandled_fault_handler(unhandled.handler());
    EXPECT_EQ(sim::read(*s.vcpu, ~0ull, 1).value(), pattern(~0ull, 1));
    EXPECT_EQ(*unhandled.seen, (std::vector<Seen>{{~0ull, 1, false, 0}}));
}

TEST_F(SplitTest, RangesAndAccessesThatReallyWrapAreStillRefused) {
    LogCapture log;
    EXPECT_EQ(s.vm->reserve_at(kTopPage, 0x1001, test::returns(FaultResult::handled)).code(), Errc::invalid_argument);
    EXPECT_TRUE(log.has_error("Vm::reserve_at", {"wraps"})) << log.dump();
    EXPECT_EQ(s.vm->make_anon(kTopPage, 0x1000).code(), Errc::invalid_argument) << "pools end below 2^64";
    EXPECT_TRUE(s.vm->reservations().empty());
    EXPECT_TRUE(s.vm->pools().empty());
    s.vm->set_unhandled_fault_handler(test::returns(FaultResult::handled));
    EXPECT_EQ(sim::read(*s.vcpu, ~0ull - 3, 8).code(), Errc::fault_error);
    EXPECT_TRUE(log.has_error("sim::read", {"wraps"})) << log.dump();
}

}  // namespace
}  // namespace guestmem
