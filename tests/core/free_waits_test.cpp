// SPDX-License-Identifier: BSD-2-Clause
// FreeWaits (src/core/free_waits.*): which waiting frees close a cycle.
#include <gtest/gtest.h>

#include <memory>
#include <vector>

#include "free_waits.hpp"
#include "reservation.hpp"

using namespace guestmem;

namespace {

// Only the addresses of the reservations matter to the graph.
struct Reservations {
    std::vector<std::unique_ptr<Reservation>> all;
    const Reservation* operator[](std::size_t i) {
        while (all.size() <= i) {
            all.push_back(std::make_unique<Reservation>(
                ReservationId{all.size() + 1}, Range{0x1000 * all.size(), 0x1000},
                [](Fault&) { return FaultResult::error; }, false));
        }
        return all[i].get();
    }
};

using List = std::vector<const Reservation*>;

}  // namespace

TEST(FreeWaits, AFreeOutsideEveryReservationNeverDeadlocks) {
    Reservations r;
    FreeWaits waits;
    auto a = waits.add(r[2], List{r[1]});
    EXPECT_FALSE(waits.would_deadlock(r[1], List{}));
}

TEST(FreeWaits, TwoFreesWaitingForEachOther) {
    Reservations r;
    FreeWaits waits;
    // Thread A, inside R1, waits for R2.
    auto a = waits.add(r[2], List{r[1]});
    // Thread B inside R2 freeing R1 would wait for A: a cycle.
    EXPECT_TRUE(waits.would_deadlock(r[1], List{r[2]}));
    // Thread C inside R3 freeing R1 waits for A, which waits for R2, not for C.
    EXPECT_FALSE(waits.would_deadlock(r[1], List{r[3]}));
    // Thread B inside R2 freeing R4 (nobody waiting is inside R4): no cycle.
    EXPECT_FALSE(waits.would_deadlock(r[4], List{r[2]}));
}

TEST(FreeWaits, LongerChainsAndNestedEntries) {
    Reservations r;
    FreeWaits waits;
    auto a = waits.add(r[2], List{r[1]});        // A in R1 waits for R2
    auto b = waits.add(r[3], List{r[5], r[2]});  // B in R5 and R2 (nested) waits for R3
    // C in R3 freeing R1: waits for A, A for B (in R2), B for R3 where C is.
    EXPECT_TRUE(waits.would_deadlock(r[1], List{r[3]}));
    // C in R3 freeing R5: waits for B (in R5), B waits for R3 where C is.
    EXPECT_TRUE(waits.would_deadlock(r[5], List{r[4], r[3]}));
    // D in R6 freeing R1: the chain ends at R3, where D is not.
    EXPECT_FALSE(waits.would_deadlock(r[1], List{r[6]}));
}

TEST(FreeWaits, ARegistrationEndsWithItsWait) {
    Reservations r;
    FreeWaits waits;
    {
        auto a = waits.add(r[2], List{r[1]});
        auto moved = std::move(a);  // still registered once
        EXPECT_TRUE(waits.would_deadlock(r[1], List{r[2]}));
    }
    EXPECT_FALSE(waits.would_deadlock(r[1], List{r[2]}));
}
