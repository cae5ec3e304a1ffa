// SPDX-License-Identifier: BSD-2-Clause
#include "host_window.hpp"

#include <sys/mman.h>

#include <cerrno>
#include <cstring>
#include <string>
#include <utility>

#include "format.hpp"

namespace guestmem::emu {

Result<HostWindow> HostWindow::reserve(std::uint64_t bytes) {
    void* base = mmap(nullptr, bytes, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (base == MAP_FAILED) {
        return fail(Errc::out_of_memory, std::string("cannot reserve a host window: ") + errno_message(errno));
    }
    return HostWindow(static_cast<std::byte*>(base), bytes);
}

HostWindow::~HostWindow() {
    if (base_) munmap(base_, size_);
}

HostWindow::HostWindow(HostWindow&& other) noexcept
    : base_(std::exchange(other.base_, nullptr)), size_(std::exchange(other.size_, 0)) {}

HostWindow& HostWindow::operator=(HostWindow&& other) noexcept {
    if (this != &other) {
        if (base_) munmap(base_, size_);
        base_ = std::exchange(other.base_, nullptr);
        size_ = std::exchange(other.size_, 0);
    }
    return *this;
}

Result<void> HostWindow::place(std::uint64_t at, int fd, std::uint64_t offset, std::uint64_t bytes) {
    if (at > size_ || bytes > size_ - at) return fail(Errc::invalid_argument, "piece outside the host window");
    // MAP_FIXED replaces the reservation's PROT_NONE pages in place.
    void* got = mmap(base_ + at, bytes, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED, fd, static_cast<off_t>(offset));
    if (got == MAP_FAILED) {
        return fail(Errc::out_of_memory, std::string("cannot map frames into a host window: ") + errno_message(errno));
    }
    return {};
}

}  // namespace guestmem::emu
