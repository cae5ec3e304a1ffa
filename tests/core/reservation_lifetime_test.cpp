// SPDX-License-Identifier: BSD-2-Clause
// How long a reservation and what it holds live, now that entering one
// publishes the thread in its own slots (ThreadInside) instead of counting on
// the reservation: frees still wait for every thread inside, whether it was
// counted in a slot or past them, and a freed reservation keeps nothing alive.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <thread>
#include <vector>

#include "guestmem/guest_memory.hpp"
#include "test_support.hpp"
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

}  // namespace
}  // namespace guestmem
