// SPDX-License-Identifier: BSD-2-Clause
#include "thread_inside.hpp"

#include <linux/membarrier.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <mutex>

namespace guestmem {

namespace {

// The registry of every live thread's record: process-wide, because a thread
// may use the reservations of any VM, and a free must see them all.
struct Registry {
    std::mutex mutex;  // a leaf, taken with no other library lock held (frees scan after leaving the change lock)
    ThreadInside* head = nullptr;
};

Registry& registry() {
    static Registry r;  // never destroyed before the threads using it: see ~ThreadInside
    return r;
}

#if defined(__SANITIZE_THREAD__)
constexpr bool kMayUseMembarrier = false;  // ThreadSanitizer does not model it
#else
constexpr bool kMayUseMembarrier = true;
#endif

// Registered once per process; true when the expedited private command works.
bool membarrier_ready() {
    static const bool ready = [] {
        if (!kMayUseMembarrier) return false;
        const long commands = syscall(SYS_membarrier, MEMBARRIER_CMD_QUERY, 0, 0);
        if (commands < 0 || !(commands & MEMBARRIER_CMD_PRIVATE_EXPEDITED)) return false;
        return syscall(SYS_membarrier, MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED, 0, 0) == 0;
    }();
    return ready;
}

// Decided once, on first use, and never changed: both sides must agree on
// which protocol they run.
bool asymmetric() {
    static const bool yes = membarrier_ready();
    return yes;
}

}  // namespace

unsigned ThreadInside::others_holding(const Reservation* r) {
    const ThreadInside* self = &mine();
    Registry& reg = registry();
    std::lock_guard lock(reg.mutex);
    unsigned n = 0;
    for (const ThreadInside* t = reg.head; t; t = t->next_) n += (t != self && t->holds(r));
    return n;
}

bool ThreadInside::anyone_holding(const Reservation* r) {
    Registry& reg = registry();
    std::lock_guard lock(reg.mutex);
    for (const ThreadInside* t = reg.head; t; t = t->next_) {
        if (t->holds(r)) return true;
    }
    return false;
}

ThreadInside::ThreadInside() : limit_(asymmetric() ? kSlots : 0) {
    Registry& r = registry();
    std::lock_guard lock(r.mutex);
    next_ = r.head;
    if (next_) next_->prev_ = this;
    r.head = this;
}

ThreadInside::~ThreadInside() {
    if (thread_inside_detail::t_record == this) thread_inside_detail::t_record = nullptr;
    Registry& r = registry();
    std::lock_guard lock(r.mutex);
    if (prev_) prev_->next_ = next_;
    else r.head = next_;
    if (next_) next_->prev_ = prev_;
}

namespace thread_inside_detail {

// The record lives in a thread_local with a constructor and destructor (it
// registers and unregisters itself); reaching such a variable goes through a
// TLS wrapper call on every use, so the fast path reads these plain copies.
thread_local constinit ThreadInside* t_record GUESTMEM_HOT_TLS = nullptr;
thread_local constinit bool t_asymmetric GUESTMEM_HOT_TLS = false;

ThreadInside& make_record() {
    thread_local ThreadInside record;
    t_asymmetric = asymmetric();
    t_record = &record;
    return record;
}

}  // namespace thread_inside_detail

bool ThreadInside::remove(const Reservation* r) {
    const unsigned d = depth_.load(std::memory_order_relaxed);
    for (unsigned i = d; i-- > 0;) {
        if (slots_[i].load(std::memory_order_relaxed) != r) continue;
        // Shift the inner entries down before shrinking: a scan in between
        // sees an entry twice, never misses one.
        for (unsigned j = i; j + 1 < d; ++j) {
            slots_[j].store(slots_[j + 1].load(std::memory_order_relaxed), std::memory_order_relaxed);
        }
        depth_.store(d - 1, std::memory_order_release);
        return true;
    }
    return false;
}

bool ThreadInside::holds(const Reservation* r) const {
    const unsigned d = depth_.load(std::memory_order_acquire);
    for (unsigned i = 0; i < d; ++i) {
        if (slots_[i].load(std::memory_order_relaxed) == r) return true;
    }
    return false;
}

std::vector<const Reservation*> ThreadInside::entries() const {
    std::vector<const Reservation*> out;
    const unsigned d = depth_.load(std::memory_order_relaxed);
    out.reserve(d + overflow.size());
    for (unsigned i = 0; i < d; ++i) out.push_back(slots_[i].load(std::memory_order_relaxed));
    out.insert(out.end(), overflow.begin(), overflow.end());
    return out;
}

std::uint32_t ThreadInside::count(const Reservation* r) const {
    const auto all = entries();
    return static_cast<std::uint32_t>(std::count(all.begin(), all.end(), r));
}

namespace {
std::atomic<std::uint32_t> g_retired_leaves{0};
}  // namespace

void note_left_retired() {
    g_retired_leaves.fetch_add(1, std::memory_order_release);
    g_retired_leaves.notify_all();
}

std::uint32_t retired_leaves() { return g_retired_leaves.load(std::memory_order_acquire); }

void wait_for_retired_leave(std::uint32_t seen) { g_retired_leaves.wait(seen, std::memory_order_acquire); }

void writer_fence() {
    if (asymmetric()) {
        // Every thread of the process that is running executes a full memory
        // barrier before this returns (membarrier(2)); one that is not
        // running passed one when it was switched out.
        (void)syscall(SYS_membarrier, MEMBARRIER_CMD_PRIVATE_EXPEDITED, 0, 0);
    } else {
        std::atomic_thread_fence(std::memory_order_seq_cst);
    }
}

}  // namespace guestmem
