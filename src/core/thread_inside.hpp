// SPDX-License-Identifier: BSD-2-Clause
// Which reservations each thread is using, published without atomic
// read-modify-writes on the fault path.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <vector>

#include "hot_tls.hpp"

namespace guestmem {

class Reservation;
class ThreadInside;

namespace thread_inside_detail {
// The calling thread's record, once made (a plain pointer: reached without a
// TLS wrapper call), and which fence protocol it runs (see reader_fence).
extern thread_local constinit ThreadInside* t_record GUESTMEM_HOT_TLS;
extern thread_local constinit bool t_asymmetric GUESTMEM_HOT_TLS;
ThreadInside& make_record();
}  // namespace thread_inside_detail

/// The reservations one thread's dispatches and visits are inside, innermost
/// last: a stack of slots that only its thread writes (plain stores), and
/// that a freeing thread scans after a heavy fence (see publish_fences()).
/// This is the read side of an asymmetric scheme, as in userspace RCU's
/// membarrier flavour: entering costs two stores and a compiler fence, and a
/// free pays with one membarrier(2) system call.
///
/// Beyond kSlots entries (a visit of many reservations at once), and for
/// every entry where membarrier(2) is missing, entries live in `overflow`, and
/// their reservations count them with atomic read-modify-writes instead
/// (Reservation::try_enter). With both in use, an entry in a slot may be
/// newer than one in `overflow`: a leave finds its entry either way.
///
/// Thread safety: each thread touches only its own ThreadInside, except
/// holds(), which any thread may call; the registry of all threads' records
/// is process-wide and locked only when threads start, end, or a free scans.
class ThreadInside {
public:
    static constexpr unsigned kSlots = 32;

    /// The calling thread's record (registered on first use).
    static ThreadInside& mine() {
        ThreadInside* record = thread_inside_detail::t_record;
        return record ? *record : thread_inside_detail::make_record();
    }
    /// How many live threads other than the caller have `r` in a slot.
    static unsigned others_holding(const Reservation* r);
    /// True when any live thread, the caller included, has `r` in a slot.
    static bool anyone_holding(const Reservation* r);

    /// Pushes `r` as the innermost entry; false (nothing done) when the slots
    /// are full, or not used at all (see limit_).
    bool push(const Reservation* r) {
        const unsigned d = depth_.load(std::memory_order_relaxed);
        if (d >= limit_) return false;
        slots_[d].store(r, std::memory_order_relaxed);
        depth_.store(d + 1, std::memory_order_release);
        return true;
    }
    /// Pops the innermost slot if it holds `r` (the usual, nested leave).
    bool pop_if_innermost(const Reservation* r) {
        const unsigned d = depth_.load(std::memory_order_relaxed);
        if (d == 0 || slots_[d - 1].load(std::memory_order_relaxed) != r) return false;
        depth_.store(d - 1, std::memory_order_release);
        return true;
    }
    /// Removes the innermost slot entry equal to `r` (the innermost one but
    /// for a non-nested leave); false if no slot holds `r`.
    bool remove(const Reservation* r);
    /// True when a slot of this record holds `r` (any thread).
    bool holds(const Reservation* r) const;

    /// Every entry, slots then overflow.
    std::vector<const Reservation*> entries() const;
    /// How many entries equal `r`.
    std::uint32_t count(const Reservation* r) const;

    /// Entries that did not get a slot (this thread only).
    std::vector<const Reservation*> overflow;

    ThreadInside();
    ~ThreadInside();
    ThreadInside(const ThreadInside&) = delete;
    ThreadInside& operator=(const ThreadInside&) = delete;

private:
    std::array<std::atomic<const Reservation*>, kSlots> slots_{};
    std::atomic<unsigned> depth_{0};
    // kSlots with membarrier(2); 0 without it (old kernels, ThreadSanitizer
    // builds), when every entry is counted in its reservation instead. So
    // the slots are only ever used under the asymmetric protocol, and their
    // reader side needs only a compiler fence (slot_fence), with no test of
    // which protocol runs on every entry.
    unsigned limit_ = 0;
    ThreadInside* next_ = nullptr;  // registry list, under the registry mutex
    ThreadInside* prev_ = nullptr;
};

/// The two sides of the fence pair that orders a reader's "I am inside r,
/// then is r retired?" against a freeing thread's "r is retired, then who is
/// inside r?". With membarrier(2) (MEMBARRIER_CMD_PRIVATE_EXPEDITED) the
/// reader's side is only a compiler fence; without it (older kernels,
/// ThreadSanitizer builds) both sides are full fences.
/// Call only after ThreadInside::mine() on this thread (which decides the protocol).
inline void reader_fence() {
    if (thread_inside_detail::t_asymmetric) {
        std::atomic_signal_fence(std::memory_order_seq_cst);
    } else {
        std::atomic_thread_fence(std::memory_order_seq_cst);
    }
}
void writer_fence();

/// The reader side for slot entries (ThreadInside::push and its pops): only
/// ever used under the asymmetric protocol (see ThreadInside::limit_), where
/// it is a compiler fence.
inline void slot_fence() { std::atomic_signal_fence(std::memory_order_seq_cst); }

/// Threads leaving a reservation that is being freed count here, process-wide
/// (frees are rare: a free woken by another reservation's leave just scans
/// again), so that the reservation needs no wake-up word of its own.
void note_left_retired();
/// The count of such leaves so far, to wait on.
std::uint32_t retired_leaves();
/// Waits until the count differs from `seen`.
void wait_for_retired_leave(std::uint32_t seen);

}  // namespace guestmem
