// SPDX-License-Identifier: BSD-2-Clause
// Sole ownership of an object that other threads read through an atomic pointer.
#pragma once

#include <atomic>
#include <memory>

namespace guestmem {

/// Like std::unique_ptr<T>, but the pointer is atomic: readers on other
/// threads load it without a lock while the owner swaps it. Swapping hands the
/// old object back as a unique_ptr, so the owner decides when it is destroyed
/// (after no reader can still use it); the destructor destroys what is left.
///
/// Thread safety: get() from any thread, concurrently with exchange().
template <class T>
class AtomicUniquePtr {
public:
    AtomicUniquePtr() = default;
    ~AtomicUniquePtr() { std::unique_ptr<T> last(ptr_.load(std::memory_order_acquire)); }
    AtomicUniquePtr(const AtomicUniquePtr&) = delete;
    AtomicUniquePtr& operator=(const AtomicUniquePtr&) = delete;

    T* get() const { return ptr_.load(std::memory_order_acquire); }
    /// Publishes `next` (release) and returns the object it replaces.
    std::unique_ptr<T> exchange(std::unique_ptr<T> next) {
        return std::unique_ptr<T>(ptr_.exchange(next.release(), std::memory_order_acq_rel));
    }

private:
    std::atomic<T*> ptr_{nullptr};
};

}  // namespace guestmem
