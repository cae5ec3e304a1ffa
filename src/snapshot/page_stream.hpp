// SPDX-License-Identifier: BSD-2-Clause
// Writing a snapshot's data section: pages copied once from guest memory
// and written from those copies by a thread of their own.
#pragma once

#include <sys/uio.h>

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <filesystem>
#include <memory>
#include <mutex>
#include <span>
#include <thread>
#include <vector>

#include "format.hpp"
#include "guestmem/error.hpp"
#include "guestmem/guest_memory.hpp"

namespace guestmem::snapshot {

/// Writes `pieces` at `offset`, in order, with as few system calls as
/// IOV_MAX allows. 0 or an errno value: it may run on PageStream's thread,
/// where an Error would name no API call.
int write_pieces(int fd, std::vector<iovec>& pieces, std::uint64_t offset);

/// Writes all of `bytes` at `offset`. Errors: Errc::io_error (naming `path`).
Result<void> write_all(int fd, const std::filesystem::path& path, std::span<const std::byte> bytes,
                       std::uint64_t offset);

/// Writes the sections that follow the data section (layout, vCPUs,
/// application data) after the `header.data_bytes` at `header.data_offset`,
/// then the header with their offsets and the checksum over all of them.
/// The header's data and page counts must be set. Errors: Errc::io_error.
Result<void> write_sections(int fd, const std::filesystem::path& path, format::Header& header,
                            const format::Layout& layout, const std::vector<format::VcpuEntry>& vcpus,
                            std::span<const std::byte> application);

/// Copies the pages a snapshot stores into buffers that a thread of its own
/// writes to the data section, while the caller goes on finding the next
/// pages: the scan of guest memory and the file writes take one core each.
/// Each page is read from guest memory once, by a copy that never tears an
/// aligned word; the zero test and the checksum are of that copy, which is
/// what the file gets, so a page written meanwhile by another thread is
/// stored as some state it had, never with a checksum of another. At most
/// 12 MiB of copies are in flight.
///
/// Thread safety: one caller thread (plus the stream's own writer thread).
class PageStream {
public:
    PageStream(int fd, std::uint64_t offset) : fd_(fd), offset_(offset), thread_([this] { run(); }) {}
    ~PageStream() { stop(); }
    PageStream(const PageStream&) = delete;
    PageStream& operator=(const PageStream&) = delete;

    /// Copies the 4 KiB at `page`; false (nothing stored) when the copy is
    /// all zero. Stored pages are numbered in the order they were added.
    bool add(const std::byte* page) {
        if (!current_) current_ = take_buffer();
        std::byte* slot = current_->data() + used_;
        copy_from_guest_memory({slot, kPageSize}, {page, kPageSize});
        if (format::all_zero(slot, kPageSize)) return false;
        used_ += kPageSize;
        ++stored_;
        if (used_ == kBufferBytes) flush();
        return true;
    }
    /// Pages stored so far.
    std::uint64_t stored() const { return stored_; }
    /// Writes what is buffered and waits for every write: 0 or the errno of
    /// the first that failed. crcs() then has one checksum per stored page.
    int finish() {
        flush();
        stop();
        return error_;
    }
    /// The checksums of the stored pages, in order (complete after finish()).
    const std::vector<std::uint32_t>& crcs() const { return crcs_; }

private:
    using Buffer = std::vector<std::byte>;
    static constexpr std::size_t kBufferBytes = std::size_t{4} << 20;
    static constexpr std::size_t kBuffers = 3;  // at most 12 MiB of copies in flight

    std::unique_ptr<Buffer> take_buffer();
    void flush();
    void stop();
    void run();

    struct Pending {
        std::unique_ptr<Buffer> buffer;
        std::size_t bytes = 0;
    };
    const int fd_;
    std::uint64_t offset_;  // the writer thread's
    int error_ = 0;         // the writer thread's until it is joined
    // The scanning thread's:
    std::unique_ptr<Buffer> current_;
    std::size_t used_ = 0;
    std::uint64_t stored_ = 0;
    std::vector<std::uint32_t> crcs_;
    std::mutex mutex_;
    std::condition_variable wake_;
    std::deque<Pending> queue_;                  // mutex_
    std::vector<std::unique_ptr<Buffer>> free_;  // mutex_
    std::size_t made_ = 0;                       // mutex_
    bool done_ = false;                          // mutex_
    std::thread thread_;                         // last: starts once the rest is made
};

}  // namespace guestmem::snapshot
