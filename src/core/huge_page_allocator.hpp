// SPDX-License-Identifier: BSD-2-Clause
// An allocator that asks for transparent huge pages for large arrays.
#pragma once

#include <sys/mman.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <new>

namespace guestmem {

/// std::allocator, except that an array of kThreshold bytes or more is
/// mapped on its own, aligned to 2 MiB and marked MADV_HUGEPAGE: a lookup
/// snapshot of 100,000 reservations (1.7 MiB of tree) then costs one TLB
/// entry instead of 430, which a random lookup otherwise misses on. Hosts
/// whose transparent huge pages are off (or "never") get 4 KiB pages, as
/// from std::allocator; the mapping is rounded up to 2 MiB either way.
/// Throws std::bad_alloc as std::allocator does.
template <class T>
class HugePageAllocator {
public:
    using value_type = T;
    static constexpr std::size_t kHugePage = std::size_t{2} << 20;
    static constexpr std::size_t kThreshold = std::size_t{512} << 10;

    HugePageAllocator() = default;
    template <class U>
    explicit HugePageAllocator(const HugePageAllocator<U>&) noexcept {}

    T* allocate(std::size_t n) {
        // No address space has half of 2^64 bytes free; checked first, so
        // that neither the size nor its rounding can wrap.
        if (n > SIZE_MAX / 2 / sizeof(T)) throw std::bad_alloc();
        const std::size_t bytes = n * sizeof(T);
        if (bytes < kThreshold) return std::allocator<T>().allocate(n);
        return static_cast<T*>(map_aligned(rounded(bytes)));
    }
    void deallocate(T* p, std::size_t n) noexcept {
        const std::size_t bytes = n * sizeof(T);
        if (bytes < kThreshold) {
            std::allocator<T>().deallocate(p, n);
        } else {
            munmap(p, rounded(bytes));
        }
    }
    template <class U>
    bool operator==(const HugePageAllocator<U>&) const noexcept {
        return true;
    }

private:
    static std::size_t rounded(std::size_t bytes) { return (bytes + kHugePage - 1) & ~(kHugePage - 1); }
    /// `bytes` (a multiple of 2 MiB) at a 2 MiB boundary: maps 2 MiB more and
    /// returns the unaligned head and tail.
    static void* map_aligned(std::size_t bytes) {
        void* raw = mmap(nullptr, bytes + kHugePage, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (raw == MAP_FAILED) throw std::bad_alloc();
        auto* start = static_cast<std::byte*>(raw);
        const std::size_t past = reinterpret_cast<std::uintptr_t>(raw) % kHugePage;
        const std::size_t head = past == 0 ? 0 : kHugePage - past;
        if (head != 0) munmap(start, head);
        std::byte* memory = start + head;
        munmap(memory + bytes, kHugePage - head);     // the tail: what the head did not take
        (void)madvise(memory, bytes, MADV_HUGEPAGE);  // advice: without it, 4 KiB pages
        return memory;
    }
};

}  // namespace guestmem
