// SPDX-License-Identifier: BSD-2-Clause
// An owned mmap() mapping.
#pragma once

#include <sys/mman.h>

#include <cstddef>
#include <utility>

namespace guestmem::kvm {

/// Owns one mapping and unmaps it exactly once.
///
/// Thread safety: like a pointer; the memory is shared with whoever mapped it too.
class MappedRegion {
public:
    MappedRegion() = default;
    MappedRegion(void* base, std::size_t size) : base_(base), size_(size) {}
    ~MappedRegion() { reset(); }
    MappedRegion(MappedRegion&& other) noexcept
        : base_(std::exchange(other.base_, nullptr)), size_(std::exchange(other.size_, 0)) {}
    MappedRegion& operator=(MappedRegion&& other) noexcept {
        if (this != &other) {
            reset();
            base_ = std::exchange(other.base_, nullptr);
            size_ = std::exchange(other.size_, 0);
        }
        return *this;
    }
    MappedRegion(const MappedRegion&) = delete;
    MappedRegion& operator=(const MappedRegion&) = delete;

    void* get() const { return base_; }
    std::size_t size() const { return size_; }
    void reset() {
        if (base_) ::munmap(base_, size_);
        base_ = nullptr;
        size_ = 0;
    }

private:
    void* base_ = nullptr;
    std::size_t size_ = 0;
};

}  // namespace guestmem::kvm
