// SPDX-License-Identifier: BSD-2-Clause
// One reservation: a range, its fault handler, and what is mapped in it.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <vector>

#include "atomic_unique_ptr.hpp"
#include "thread_inside.hpp"
#include "frame_map.hpp"
#include "guestmem/fault.hpp"
#include "guestmem/vm.hpp"

namespace guestmem {

/// Shared between the address space (which owns it while it is live) and the
/// lookup snapshots vCPUs hold. Fields written after creation are either
/// atomics (read on the fault path) or guarded by the AddressSpace's change
/// mutex.
///
/// Lifetime on the fault path: a dispatcher calls try_enter() before using the
/// reservation and leave() after; free calls retire() and then waits until no
/// other thread is inside (wait_until_idle), so a freed reservation's handler
/// and frames are never used after the free returns. Entering publishes the
/// reservation in the thread's ThreadInside slots with plain stores (no
/// read-modify-write on the fault path); the freeing thread pays a heavy
/// fence and scans the threads' slots.
/// What a reservation is for (each kind is made by one Vm::reserve_* function).
enum class ReservationKind : std::uint8_t { regular, doorbell, write_posting };

class Reservation {
public:
    Reservation(ReservationId id, Range range, FaultHandler handler, bool anonymous,
                ReservationKind kind = ReservationKind::regular)
        : range_(range), anonymous_(anonymous), kind_(kind), handler_(std::move(handler)), id_(id) {}
    ~Reservation();

    ReservationId id() const { return id_; }
    const Range& range() const { return range_; }
    bool anonymous() const { return anonymous_; }
    const FaultHandler& handler() const { return handler_; }
    ReservationKind kind() const { return kind_; }

    /// The backend's fast path for this reservation (change mutex held to touch it).
    std::unique_ptr<FastPath>& fast_path() { return fast_path_; }

    /// The frames mapped here, or nullptr while unmapped. They are published
    /// at most once and withdrawn only once the reservation is retired: while
    /// it is live, a non-null answer never changes (lookup caches keep a copy
    /// of a run on that ground, see RememberedRun).
    const FrameMap* frames() const { return frames_.get(); }
    /// When frames() (non-null) is one writable run covering the whole
    /// reservation, as guest RAM and device buffers usually are: that run,
    /// built from a copy kept on the cache line a lookup reads anyway, so
    /// that a VMM-side access needs no load from the frame map. Otherwise
    /// (several runs, read-only, part unmapped) nullopt: ask frames().
    /// Only after frames() returned non-null (it is written before them).
    std::optional<MappedRun> whole_run() const {
        if (!whole_host_) return std::nullopt;
        return MappedRun{range_.base, range_.size, whole_host_, Rights::read_write, whole_dirty_};
    }
    /// Publishes the frames (change mutex held; only while unmapped).
    void publish(std::unique_ptr<FrameMap> frames);
    /// Withdraws the frames after retire + wait_until_idle (leave() does it
    /// too when the last dispatch leaves a retired reservation).
    std::unique_ptr<FrameMap> withdraw();
    /// After retire + wait_until_idle with nobody inside: withdraws the frames
    /// and destroys the handler (and what it captured), so that a lookup
    /// snapshot still naming this reservation keeps only an inert shell
    /// alive. Idempotent: the first call (of any thread) does it.
    void release();

    /// The iterator of a deferred mapping (change mutex held to touch it).
    std::unique_ptr<MapIterator>& deferred() { return deferred_; }
    bool has_deferred() const { return has_deferred_.load(std::memory_order_acquire); }
    void set_has_deferred(bool value) { has_deferred_.store(value, std::memory_order_release); }

    /// Enters the reservation for a dispatch on this thread; false once retired.
    bool try_enter() { return try_enter(ThreadInside::mine()); }
    /// try_enter() with the calling thread's record already at hand.
    bool try_enter(ThreadInside& mine) {
        if (mine.push(this)) {
            slot_fence();
            if (state_.load(std::memory_order_relaxed) == kLive) return true;
            back_out(mine);
            return false;
        }
        return try_enter_counted(mine);
    }
    /// Leaves after a successful try_enter on the same thread.
    void leave() { leave(ThreadInside::mine()); }
    /// leave() with the calling thread's record (the one it entered with).
    void leave(ThreadInside& mine) { (void)leave_fenced(mine); }
    /// leave(); true when it left a slot, whose slot_fence() then also
    /// orders the caller's stores before the leave against its loads after
    /// it, the reader side DirtyLog::mark_fenced() needs.
    bool leave_fenced(ThreadInside& mine) {
        if (mine.pop_if_innermost(this)) {
            slot_fence();
            // Only a free waits, and it retires first: if we miss the flag
            // here, the free's scan (after its fence) already sees us gone.
            if (state_.load(std::memory_order_relaxed) != kLive) left_retired();
            return true;
        }
        leave_slow(mine);
        return false;
    }
    /// How many dispatches this thread has inside (a handler may free its own
    /// reservation, or one an outer dispatch on this thread is inside).
    std::uint32_t entries_on_this_thread() const;
    /// The reservations this thread's dispatches and visits are inside,
    /// slot entries before counted ones (valid until this thread enters or leaves one).
    static std::vector<const Reservation*> inside_on_this_thread();
    /// No dispatch can enter after this returns.
    void retire();
    bool retired() const { return state_.load(std::memory_order_seq_cst) != kLive; }
    /// Not yet retired, for a reader that does not enter (Vm::find_run's
    /// remembered run): what it read of a live reservation was current then.
    bool live() const { return state_.load(std::memory_order_acquire) == kLive; }
    /// Waits until no other thread is inside (this thread's own `own` entries
    /// are left alone: a handler may free its own reservation).
    void wait_until_idle() const;

private:
    // What a fault reads comes first, so that it spans as few cache lines as
    // the allocation allows (metadata per reservation is measured by
    // bench_memory): range, frames, entry count and flags, handler.
    const Range range_;
    AtomicUniquePtr<FrameMap> frames_;  // read by faults without a lock
    // whole_run()'s copy (host nullptr when there is none): plain fields,
    // written before frames_ is published and never again.
    std::byte* whole_host_ = nullptr;
    DirtyLog* whole_dirty_ = nullptr;
    std::atomic<std::uint32_t> inside_{0};  // entries past the threads' slots (ThreadInside::overflow)
    std::atomic<bool> has_deferred_{false};
    // kLive, then kRetired (no dispatch can enter), then kReleased (handler
    // and frames gone); one byte, so that the fields a fault reads share a
    // cache line and the object stays small (bench_memory measures it).
    static constexpr std::uint8_t kLive = 0, kRetired = 1, kReleased = 2;
    std::atomic<std::uint8_t> state_{kLive};
    const bool anonymous_;
    const ReservationKind kind_;
    FaultHandler handler_;  // destroyed by release(), once nobody can be inside
    const ReservationId id_;
    std::unique_ptr<FastPath> fast_path_;
    std::unique_ptr<MapIterator> deferred_;  // rare: kept out of line

    bool in_use_by_anyone() const;
    void back_out(ThreadInside& mine);
    bool try_enter_counted(ThreadInside& mine);
    void leave_slow(ThreadInside& mine);
    void left_retired();
};

}  // namespace guestmem
