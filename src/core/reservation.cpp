// SPDX-License-Identifier: BSD-2-Clause
#include "reservation.hpp"

#include <algorithm>
#include <vector>

#include "thread_inside.hpp"

namespace guestmem {

Reservation::~Reservation() = default;

void Reservation::publish(std::unique_ptr<FrameMap> frames) {
    if (frames && frames->runs().size() == 1) {
        const MappedRun& only = frames->runs().front();
        if (only.gpa == range_.base && only.size == range_.size && only.rights == Rights::read_write) {
            whole_host_ = only.host;
            whole_dirty_ = only.dirty;
        }
    }
    (void)frames_.exchange(std::move(frames));
}

std::unique_ptr<FrameMap> Reservation::withdraw() { return frames_.exchange(nullptr); }

void Reservation::release() {
    // Two threads may both find the reservation unused (the last two to
    // leave, or a leave and its free): the first releases.
    std::uint8_t retired = kRetired;
    if (!state_.compare_exchange_strong(retired, kReleased, std::memory_order_acq_rel)) return;
    (void)withdraw();
    FaultHandler gone = std::move(handler_);
    handler_ = nullptr;
}

// try_enter (in the header) and retire + wait_until_idle form a Dekker pair: the entering
// thread publishes itself, then reads the flag; the freeing thread sets the
// flag, then reads who is inside. For a slot entry slot_fence/writer_fence
// order both sides (a compiler fence against a membarrier); a counted entry
// (no membarrier, or the slots full) uses sequentially consistent
// read-modify-writes instead. Either way the dispatcher sees the retirement
// or the freeing thread sees the dispatcher.
void Reservation::back_out(ThreadInside& mine) {
    (void)mine.remove(this);
    reader_fence();
    note_left_retired();
}

// Past the slots: count ourselves in the reservation instead.
bool Reservation::try_enter_counted(ThreadInside& mine) {
    inside_.fetch_add(1, std::memory_order_seq_cst);
    if (state_.load(std::memory_order_seq_cst) != kLive) {
        inside_.fetch_sub(1, std::memory_order_seq_cst);
        note_left_retired();
        return false;
    }
    mine.overflow.push_back(this);
    return true;
}

void Reservation::leave_slow(ThreadInside& mine) {
    auto it = std::find(mine.overflow.rbegin(), mine.overflow.rend(), this);
    if (it != mine.overflow.rend()) {
        mine.overflow.erase(std::next(it).base());
        inside_.fetch_sub(1, std::memory_order_seq_cst);
    } else {
        (void)mine.remove(this);  // not the innermost entry: a leave out of order
        reader_fence();
    }
    if (state_.load(std::memory_order_relaxed) != kLive) left_retired();
}

void Reservation::left_retired() {
    std::atomic_thread_fence(std::memory_order_seq_cst);  // rare: a free is waiting or done
    note_left_retired();
    // The last one out of a freed reservation lets its frames go: a handler
    // that freed its own reservation could not (it was still inside), and
    // lookup snapshots on idle vCPUs may keep this object for a long time.
    if (!in_use_by_anyone()) release();
}

bool Reservation::in_use_by_anyone() const {
    return inside_.load(std::memory_order_seq_cst) != 0 || ThreadInside::anyone_holding(this);
}

std::vector<const Reservation*> Reservation::inside_on_this_thread() { return ThreadInside::mine().entries(); }

std::uint32_t Reservation::entries_on_this_thread() const { return ThreadInside::mine().count(this); }

void Reservation::retire() {
    state_.store(kRetired, std::memory_order_seq_cst);
    writer_fence();
}

void Reservation::wait_until_idle() const {
    const auto& overflow = ThreadInside::mine().overflow;
    const auto own_overflow = static_cast<std::uint32_t>(std::count(overflow.begin(), overflow.end(), this));
    for (;;) {
        const std::uint32_t seen = retired_leaves();
        const bool others = inside_.load(std::memory_order_seq_cst) > own_overflow ||
                            ThreadInside::others_holding(this) > 0;
        if (!others) return;
        wait_for_retired_leave(seen);
    }
}

}  // namespace guestmem
