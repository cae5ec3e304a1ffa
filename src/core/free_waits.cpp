// SPDX-License-Identifier: BSD-2-Clause
#include "free_waits.hpp"

#include <algorithm>

namespace guestmem {

namespace {

bool contains(std::span<const Reservation* const> set, const Reservation* r) {
    return std::find(set.begin(), set.end(), r) != set.end();
}

}  // namespace

FreeWaits::Registration::~Registration() {
    if (waits_) waits_->remove(token_);
}

bool FreeWaits::would_deadlock(const Reservation* target, std::span<const Reservation* const> inside) const {
    if (inside.empty()) return false;  // nobody waits for a thread outside every reservation
    std::lock_guard lock(mutex_);
    // `blocking`: reservations the new free would wait for, directly or
    // through waiting frees. A waiting free inside one of them blocks the new
    // one until its own target is left; if that target is one the new free's
    // thread is inside, the wait is circular.
    std::vector<const Reservation*> blocking{target};
    std::vector<bool> followed(waiters_.size(), false);
    for (bool grew = true; grew;) {
        grew = false;
        for (std::size_t i = 0; i < waiters_.size(); ++i) {
            const Waiter& waiter = waiters_[i];
            if (followed[i] || std::none_of(waiter.inside.begin(), waiter.inside.end(),
                                            [&](const Reservation* r) { return contains(blocking, r); })) {
                continue;
            }
            if (contains(inside, waiter.target)) return true;
            followed[i] = true;
            blocking.push_back(waiter.target);
            grew = true;
        }
    }
    return false;
}

FreeWaits::Registration FreeWaits::add(const Reservation* target, std::vector<const Reservation*> inside) {
    std::lock_guard lock(mutex_);
    const std::uint64_t token = next_token_++;
    waiters_.push_back(Waiter{token, target, std::move(inside)});
    return Registration(*this, token);
}

void FreeWaits::remove(std::uint64_t token) {
    std::lock_guard lock(mutex_);
    std::erase_if(waiters_, [token](const Waiter& w) { return w.token == token; });
}

}  // namespace guestmem
