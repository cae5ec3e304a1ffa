// SPDX-License-Identifier: BSD-2-Clause
#include "dirty_log.hpp"

#include <sys/mman.h>

#include <cerrno>
#include <string>

#include "format.hpp"

namespace guestmem {

DirtyLog::DirtyLog(const std::byte* base, std::uint64_t capacity) : base_(base), capacity_(capacity) {}

DirtyLog::~DirtyLog() {
    for (auto& slot : words_) {
        if (auto* words = slot.load(std::memory_order_relaxed)) munmap(words, word_count() * sizeof(std::uint64_t));
    }
}

void DirtyLog::mark_pages(std::uint64_t trackers, std::uint64_t first, std::uint64_t last) noexcept {
    while (trackers) {
        const auto tracker = static_cast<unsigned>(__builtin_ctzll(trackers));
        trackers &= trackers - 1;
        std::atomic<std::uint64_t>* words = words_[tracker].load(std::memory_order_acquire);
        for (std::uint64_t page = first; page <= last; ++page) mark_page(words, page);
    }
}

Result<void> DirtyLog::attach(unsigned tracker) {
    const std::size_t bytes = word_count() * sizeof(std::uint64_t);
    auto* words = words_[tracker].load(std::memory_order_relaxed);
    if (!words) {
        void* memory = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
        if (memory == MAP_FAILED) {
            return fail(Errc::out_of_memory,
                        "cannot map " + std::to_string(bytes) + " bytes of dirty-page bits: " + errno_message(errno));
        }
        words = static_cast<std::atomic<std::uint64_t>*>(memory);
        words_[tracker].store(words, std::memory_order_release);
    } else {
        // Left over from an earlier tracker in this slot: start clean. A
        // marker still finishing for that tracker may set a bit again, which
        // over-reports one page at worst.
        madvise(words, bytes, MADV_DONTNEED);
    }
    attached_.fetch_or(std::uint64_t{1} << tracker, std::memory_order_acq_rel);
    return {};
}

void DirtyLog::detach(unsigned tracker) noexcept {
    attached_.fetch_and(~(std::uint64_t{1} << tracker), std::memory_order_acq_rel);
}

}  // namespace guestmem
