// SPDX-License-Identifier: BSD-2-Clause
// The frees that are waiting for handlers on other threads, kept to refuse a
// free that would wait forever.
#pragma once

#include <cstdint>
#include <mutex>
#include <span>
#include <vector>

namespace guestmem {

class Reservation;

/// A free waits until the dispatches inside its reservation on other threads
/// have left. A free called from a handler is itself inside reservations, so
/// frees can wait for each other: handler A (inside R1) frees R2 while
/// handler B (inside R2) frees R1, and neither would ever return. This graph
/// of waiting frees lets the free that would close such a cycle see it before
/// it changes anything, and be refused instead.
///
/// Thread safety: all members are safe to call concurrently. The check and
/// the registration that follows it must not interleave with another free's
/// (the AddressSpace makes both under its change lock), so that of two frees
/// closing a cycle the second always sees the first.
class FreeWaits {
public:
    /// Removes its waiter from the graph when destroyed.
    class Registration {
    public:
        Registration(FreeWaits& waits, std::uint64_t token) : waits_(&waits), token_(token) {}
        ~Registration();
        Registration(Registration&& other) noexcept : waits_(other.waits_), token_(other.token_) {
            other.waits_ = nullptr;
        }
        Registration(const Registration&) = delete;
        Registration& operator=(const Registration&) = delete;
        Registration& operator=(Registration&&) = delete;

    private:
        FreeWaits* waits_;
        std::uint64_t token_;
    };

    /// True when a thread inside `inside` that waits for the dispatches in
    /// `target` would wait, through the waiting frees, for itself.
    bool would_deadlock(const Reservation* target, std::span<const Reservation* const> inside) const;
    /// Records that a thread inside `inside` waits for `target` until the
    /// registration is destroyed.
    Registration add(const Reservation* target, std::vector<const Reservation*> inside);

private:
    struct Waiter {
        std::uint64_t token;
        const Reservation* target;
        std::vector<const Reservation*> inside;
    };
    void remove(std::uint64_t token);

    mutable std::mutex mutex_;      // a leaf: after AddressSpace::change_mutex_, never before another lock
    std::vector<Waiter> waiters_;   // mutex_
    std::uint64_t next_token_ = 0;  // mutex_
};

}  // namespace guestmem
