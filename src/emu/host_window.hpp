// SPDX-License-Identifier: BSD-2-Clause
// One reservation's frames side by side in the VMM's address space.
#pragma once

#include <cstddef>
#include <cstdint>

#include "guestmem/error.hpp"

namespace guestmem::emu {

/// A range of the VMM's address space reserved at once (PROT_NONE) and then
/// filled piece by piece with shared mappings of memfd offsets, so that frames
/// scattered in a memfd appear contiguous: the emulator maps such a window as
/// one region. Unmapped when destroyed. Not thread safe (built by one thread,
/// then only read).
class HostWindow {
public:
    /// Reserves `bytes` (a multiple of the host page size). Errc::out_of_memory.
    static Result<HostWindow> reserve(std::uint64_t bytes);
    HostWindow() = default;
    ~HostWindow();
    HostWindow(HostWindow&& other) noexcept;
    HostWindow& operator=(HostWindow&& other) noexcept;
    HostWindow(const HostWindow&) = delete;
    HostWindow& operator=(const HostWindow&) = delete;

    /// Maps `bytes` of `fd` from `offset` at `at` bytes into the window,
    /// readable and writable. Errc::invalid_argument (outside the window),
    /// Errc::out_of_memory (mmap failed).
    Result<void> place(std::uint64_t at, int fd, std::uint64_t offset, std::uint64_t bytes);

    std::byte* data() const { return base_; }
    std::uint64_t size() const { return size_; }

private:
    HostWindow(std::byte* base, std::uint64_t size) : base_(base), size_(size) {}
    std::byte* base_ = nullptr;
    std::uint64_t size_ = 0;
};

}  // namespace guestmem::emu
