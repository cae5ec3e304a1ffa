// SPDX-License-Identifier: BSD-2-Clause
// How long a reservation and what it holds live, now that entering one
// publishes the thread in its own slots (ThreadInside) instead of counting on
// the reservation: frees still wait for every thread inside, whether it was
// counted in a slot or past them, and a freed reservation keeps nothing alive.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <memory>
#include <random>
#include <thread>
#include <vector>

#include "guestmem/guest_memory.hpp"
#include "test_support.hpp"
#include "region_index.hpp"
#include "reservation.hpp"
#include "thread_inside.hpp"

namespace guestmem {
namespace {

using test::SimVm;

/// `count` one-page RAM reservations back to back from `base`.
std::vector<ReservationId> ram_pages(SimVm& s, GuestAddr base, unsigned count) {
    std::vector<ReservationId> ids;
    for (unsigned i = 0; i < count; ++i) {
        auto id = s.vm->reserve_at(base + i * kPageSize, kPageSize, test::returns(FaultResult::error));
        EXPECT_TRUE(id);
        const Cap frame[] = {s.frame()};
        EXPECT_TRUE(s.vm->map_frames(*id, frame, kPageBits));
        ids.push_back(*id);
    }
    return ids;
}

TEST(ConcurrentFree, WaitsForAVisitHoldingMoreReservationsThanTheThreadHasSlots) {
    SimVm s;
    constexpr unsigned kPages = ThreadInside::kSlots + 8;
    const auto ids = ram_pages(s, 0x100000, kPages);
    std::atomic<bool> inside{false}, release{false};
    std::thread visitor([&] {
        auto r =
            s.vm->visit_memory(0x100000, kPages * kPageSize, Rights::read, [&](const GuestChunk& c) -> Result<void> {
                if (c.offset == 0) {
                    inside = true;
                    while (!release) std::this_thread::yield();
                }
                return {};
            });
        EXPECT_TRUE(r);
    });
    while (!inside) std::this_thread::yield();
    // The first reservation is held in one of the visiting thread's slots,
    // the last one past them.
    std::atomic<int> freed{0};
    std::vector<std::thread> freers;
    for (ReservationId id : {ids.front(), ids.back()}) {
        freers.emplace_back([&, id] {
            EXPECT_TRUE(s.vm->free(id));
            ++freed;
        });
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    EXPECT_EQ(freed.load(), 0) << "both frees must wait for the visit";
    release = true;
    visitor.join();
    for (auto& t : freers) t.join();
    EXPECT_EQ(freed.load(), 2);
    EXPECT_EQ(s.vm->reservations().size(), kPages - 2);
}

TEST(ConcurrentFree, AFreedReservationsHandlerIsDestroyedThoughASnapshotStillNamesIt) {
    SimVm s;
    auto token = std::make_shared<int>(7);
    auto id = s.vm->reserve_at(0x1000, 8, [token](Fault& f) {
        f.set_data(static_cast<std::uint64_t>(*token));
        return FaultResult::handled;
    });
    ASSERT_TRUE(id);
    EXPECT_EQ(sim::read(*s.vcpu, 0x1000, 4).value(), 7u);  // the vCPU's snapshot now names it
    EXPECT_EQ(token.use_count(), 2);
    ASSERT_TRUE(s.vm->free(*id));
    EXPECT_EQ(token.use_count(), 1) << "the handler and its captures went with the free";
    s.vm->set_unhandled_fault_handler(test::returns(FaultResult::ignore));
    EXPECT_EQ(sim::read(*s.vcpu, 0x1000, 4).value(), 0u);
}

TEST(ConcurrentFree, AHandlerFreeingItsOwnReservationIsDestroyedWhenItReturns) {
    SimVm s;
    auto token = std::make_shared<int>(1);
    std::optional<ReservationId> id;
    long count_inside = 0;
    auto made = s.vm->reserve_at(0x1000, 8, [&, token](Fault&) {
        EXPECT_TRUE(s.vm->free(*id));
        count_inside = token.use_count();  // still alive: we are running in it
        return FaultResult::handled;
    });
    ASSERT_TRUE(made);
    id = *made;
    ASSERT_TRUE(sim::read(*s.vcpu, 0x1000, 4));
    EXPECT_EQ(count_inside, 2);
    EXPECT_EQ(token.use_count(), 1) << "released by the last leave";
}

TEST(ConcurrentFree, VmmSideCopiesSeeAFreeAtOnce) {
    // VMM-side copies look up through a per-thread cache: a free (or a new
    // VM at a reused address) is never missed.
    SimVm s;
    const auto ids = ram_pages(s, 0x100000, 2);
    ASSERT_TRUE(write_guest_value<std::uint32_t>(*s.vm, 0x100000, 5));
    ASSERT_TRUE(s.vm->free(ids[0]));
    test::LogCapture log;
    EXPECT_EQ(read_guest_value<std::uint32_t>(*s.vm, 0x100000).code(), Errc::not_mapped);
    EXPECT_EQ(s.vm->find_run(0x100000), std::nullopt);
    ASSERT_TRUE(s.vm->find_run(0x101000));

    SimVm other;
    ram_pages(other, 0x100000, 1);
    ASSERT_TRUE(write_guest_value<std::uint32_t>(*other.vm, 0x100000, 9));
    EXPECT_EQ(read_guest_value<std::uint32_t>(*other.vm, 0x100000).value(), 9u);
    EXPECT_EQ(read_guest_value<std::uint32_t>(*s.vm, 0x100000).code(), Errc::not_mapped);
}

TEST(ConcurrentFree, ARememberedRunNeverOutlivesItsReservation) {
    // find_run and the copies remember the run they used last (a copy in the
    // thread's cache): after a free, and after a new reservation at the same
    // address with another frame, they must use what is mapped now.
    SimVm s;
    auto first = ram_pages(s, 0x100000, 1);
    const auto before = s.vm->find_run(0x100010);
    ASSERT_TRUE(before);
    ASSERT_EQ(s.vm->find_run(0x100020)->host, before->host) << "the remembered run";
    ASSERT_TRUE(write_guest_value<std::uint32_t>(*s.vm, 0x100010, 5));
    ASSERT_TRUE(s.vm->free(first[0]));
    EXPECT_EQ(s.vm->find_run(0x100010), std::nullopt);

    // A new reservation at the same address, on a frame of its own (the old
    // frame is still allocated, so the new one lies elsewhere in host memory).
    auto id = s.vm->reserve_at(0x100000, kPageSize, test::returns(FaultResult::error));
    ASSERT_TRUE(id);
    const Cap frame[] = {s.frame()};
    ASSERT_TRUE(s.vm->map_frames(*id, frame, kPageBits));
    const auto after = s.vm->find_run(0x100010);
    ASSERT_TRUE(after);
    EXPECT_EQ(after->host, s.memory(frame[0]).data());
    EXPECT_EQ(read_guest_value<std::uint32_t>(*s.vm, 0x100010).value(), 0u) << "the new frame, not the old one";
    ASSERT_TRUE(write_guest_value<std::uint32_t>(*s.vm, 0x100010, 7));
    std::uint32_t seen = 0;
    std::memcpy(&seen, s.memory(frame[0]).data() + 0x10, sizeof seen);
    EXPECT_EQ(seen, 7u);
}

TEST(RememberedRuns, AThreadMovingBetweenVmsNeverUsesTheOtherVmsRun) {
    // Each VM has its own RAM at the same guest addresses: a thread copying
    // into one, then the other, must reach each VM's own frames every time,
    // also at a page the thread last used in the other VM.
    SimVm a, b;
    ram_pages(a, 0x100000, 2);
    ram_pages(b, 0x100000, 2);
    constexpr GuestAddr kFirst = 0x100010, kSecond = 0x101010;
    for (std::uint32_t i = 0; i < 100; ++i) {
        ASSERT_TRUE(write_guest_value<std::uint32_t>(*a.vm, kFirst, 4 * i));
        ASSERT_TRUE(write_guest_value<std::uint32_t>(*a.vm, kSecond, 4 * i + 1));
        ASSERT_TRUE(write_guest_value<std::uint32_t>(*b.vm, kFirst, 4 * i + 2));
        ASSERT_TRUE(write_guest_value<std::uint32_t>(*b.vm, kSecond, 4 * i + 3));
        EXPECT_EQ(read_guest_value<std::uint32_t>(*a.vm, kFirst).value(), 4 * i);
        EXPECT_EQ(read_guest_value<std::uint32_t>(*a.vm, kSecond).value(), 4 * i + 1);
        EXPECT_EQ(read_guest_value<std::uint32_t>(*b.vm, kFirst).value(), 4 * i + 2);
        EXPECT_EQ(read_guest_value<std::uint32_t>(*b.vm, kSecond).value(), 4 * i + 3);
        const auto in_a = a.vm->find_run(kSecond);
        const auto in_b = b.vm->find_run(kSecond);
        ASSERT_TRUE(in_a && in_b);
        EXPECT_NE(in_a->host, in_b->host);
    }
}

TEST(RememberedRuns, ReservationsSharingAnEntryEachReachTheirOwnFrame) {
    // Far more reservations than a thread remembers runs for, so that many
    // share an entry; then one is freed and its address reserved again on
    // another frame while the others are remembered.
    constexpr std::size_t kCount = 3 * RememberedRuns::kCount;
    SimVm s;
    std::vector<ReservationId> ids;
    for (std::size_t i = 0; i < kCount; ++i) ids.push_back(ram_pages(s, 0x100000 + i * 0x2000, 1)[0]);
    std::mt19937_64 random(5);
    for (int round = 0; round < 3; ++round) {
        for (std::size_t i = 0; i < kCount; ++i) {
            ASSERT_TRUE(write_guest_value<std::uint64_t>(*s.vm, 0x100008 + i * 0x2000, i * 10 + round));
        }
        for (std::size_t k = 0; k < 4 * kCount; ++k) {
            const std::size_t i = random() % kCount;
            ASSERT_EQ(read_guest_value<std::uint64_t>(*s.vm, 0x100008 + i * 0x2000).value(), i * 10 + round) << i;
        }
    }
    ASSERT_TRUE(s.vm->free(ids[500]));
    EXPECT_FALSE(read_guest_value<std::uint64_t>(*s.vm, 0x100008 + 500 * 0x2000));
    EXPECT_EQ(s.vm->find_run(0x100008 + 500 * 0x2000), std::nullopt);
    ram_pages(s, 0x100000 + 500 * 0x2000, 1);
    EXPECT_EQ(read_guest_value<std::uint64_t>(*s.vm, 0x100008 + 500 * 0x2000).value(), 0u) << "the new frame";
    EXPECT_EQ(read_guest_value<std::uint64_t>(*s.vm, 0x100008 + 501 * 0x2000).value(), 501u * 10 + 2);
}

TEST(ThreadInsideSlots, EntriesInSlotsAndPastThemLeaveInAnyOrder) {
    // With the slots full, entries are counted in their reservations; a leave
    // out of order then frees a slot while counted entries remain, and the
    // next entry takes the slot. Every leave must find its own entry.
    constexpr unsigned kCount = ThreadInside::kSlots + 4;
    std::vector<std::shared_ptr<Reservation>> held;
    for (unsigned i = 0; i < kCount; ++i) {
        held.push_back(std::make_shared<Reservation>(ReservationId{1000 + i},
                                                     Range{0x100000 + i * kPageSize, kPageSize},
                                                     test::returns(FaultResult::error), false));
    }
    for (unsigned i = 0; i + 1 < kCount; ++i) ASSERT_TRUE(held[i]->try_enter());
    EXPECT_EQ(Reservation::inside_on_this_thread().size(), kCount - 1);
    held[0]->leave();  // out of order: a slot frees up below counted entries
    ASSERT_TRUE(held[kCount - 1]->try_enter());
    ASSERT_TRUE(held[kCount - 2]->try_enter());  // entered twice, counted both times: the slots are full again
    EXPECT_EQ(held[kCount - 2]->entries_on_this_thread(), 2u);
    EXPECT_EQ(Reservation::inside_on_this_thread().size(), kCount);
    for (unsigned i = 1; i < kCount; ++i) held[i]->leave();
    held[kCount - 2]->leave();
    EXPECT_TRUE(Reservation::inside_on_this_thread().empty());
    for (const auto& r : held) {
        EXPECT_EQ(r->entries_on_this_thread(), 0u);
        r->retire();
        r->wait_until_idle();  // nothing is left inside: returns at once
    }
}

}  // namespace
}  // namespace guestmem
