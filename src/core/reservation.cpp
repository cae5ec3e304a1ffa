#include "reservation.hpp"

#include <algorithm>
#include <vector>

namespace guestmem {

namespace {
// The reservations this thread's dispatches are inside, innermost last.
thread_local std::vector<const Reservation*> t_inside;
}  // namespace

Reservation::~Reservation() = default;

void Reservation::publish(std::unique_ptr<FrameMap> frames) { (void)frames_.exchange(std::move(frames)); }

std::unique_ptr<FrameMap> Reservation::withdraw() { return frames_.exchange(nullptr); }

// try_enter and retire form a Dekker pair: each side writes its flag and then
// reads the other's, both sequentially consistent, so either the dispatcher
// sees the retirement or the freeing thread sees the dispatcher inside.
bool Reservation::try_enter() {
    inside_.fetch_add(1, std::memory_order_seq_cst);
    if (retired_.load(std::memory_order_seq_cst)) {
        inside_.fetch_sub(1, std::memory_order_seq_cst);
        inside_.notify_all();
        return false;
    }
    t_inside.push_back(this);
    return true;
}

void Reservation::leave() {
    auto it = std::find(t_inside.rbegin(), t_inside.rend(), this);
    if (it != t_inside.rend()) t_inside.erase(std::next(it).base());
    const std::uint32_t before = inside_.fetch_sub(1, std::memory_order_seq_cst);
    // Only a free waits, and it retires first; the two seq_cst pairs (our
    // decrement then its flag, its flag then its wait's load) mean that if we
    // miss the flag, the waiter's load already sees our decrement.
    if (!retired_.load(std::memory_order_seq_cst)) return;
    inside_.notify_all();
    // The last one out of a freed reservation lets its frames go: a handler
    // that freed its own reservation could not (it was still inside), and
    // lookup snapshots on idle vCPUs may keep this object for a long time.
    if (before == 1) (void)withdraw();
}

std::span<const Reservation* const> Reservation::inside_on_this_thread() { return t_inside; }

std::uint32_t Reservation::entries_on_this_thread() const {
    return static_cast<std::uint32_t>(std::count(t_inside.begin(), t_inside.end(), this));
}

void Reservation::retire() { retired_.store(true, std::memory_order_seq_cst); }

void Reservation::wait_until_idle(std::uint32_t own) const {
    for (std::uint32_t n = inside_.load(std::memory_order_seq_cst); n > own;
         n = inside_.load(std::memory_order_seq_cst)) {
        inside_.wait(n, std::memory_order_seq_cst);
    }
}

}  // namespace guestmem
