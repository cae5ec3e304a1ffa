// SPDX-License-Identifier: BSD-2-Clause
// write_pieces and write_all: the system calls a snapshot's writes make.
#include "page_stream.hpp"

#include <climits>
#include <unistd.h>

#include <cerrno>

#include "../core/format.hpp"  // errno_message

namespace guestmem::snapshot {

int write_pieces(int fd, std::vector<iovec>& pieces, std::uint64_t offset) {
    std::size_t next = 0;
    while (next < pieces.size()) {
        const int count = static_cast<int>(std::min<std::size_t>(pieces.size() - next, IOV_MAX));
        const ssize_t n = ::pwritev(fd, pieces.data() + next, count, static_cast<off_t>(offset));
        if (n < 0) {
            if (errno == EINTR) continue;
            return errno;
        }
        if (n == 0) return EIO;
        offset += static_cast<std::uint64_t>(n);
        auto left = static_cast<std::size_t>(n);
        while (left > 0 && next < pieces.size()) {
            if (left >= pieces[next].iov_len) {
                left -= pieces[next].iov_len;
                ++next;
            } else {
                pieces[next].iov_base = static_cast<std::byte*>(pieces[next].iov_base) + left;
                pieces[next].iov_len -= left;
                left = 0;
            }
        }
    }
    return 0;
}

Result<void> write_all(int fd, const std::filesystem::path& path, std::span<const std::byte> bytes,
                       std::uint64_t offset) {
    std::vector<iovec> one{iovec{const_cast<std::byte*>(bytes.data()), bytes.size()}};
    if (const int err = write_pieces(fd, one, offset); err != 0) {
        return fail(Errc::io_error, path.string() + ": write failed: " + errno_message(err));
    }
    return {};
}

Result<void> write_sections(int fd, const std::filesystem::path& path, format::Header& header,
                            const format::Layout& layout, const std::vector<format::VcpuEntry>& vcpus,
                            std::span<const std::byte> application) {
    const std::vector<std::byte> layout_bytes = format::encode_layout(layout);
    const std::vector<std::byte> vcpu_bytes = format::encode_vcpus(vcpus);
    header.layout_offset = header.data_offset + header.data_bytes;
    header.layout_bytes = layout_bytes.size();
    header.vcpu_offset = header.layout_offset + header.layout_bytes;
    header.vcpu_bytes = vcpu_bytes.size();
    header.application_offset = header.vcpu_offset + header.vcpu_bytes;
    header.application_bytes = application.size();
    header.checksum = 0;
    std::uint32_t crc = format::crc32c(format::encode_header(header));
    crc = format::crc32c(layout_bytes, crc);
    crc = format::crc32c(vcpu_bytes, crc);
    header.checksum = format::crc32c(application, crc);

    std::vector<std::byte> tail = layout_bytes;
    tail.insert(tail.end(), vcpu_bytes.begin(), vcpu_bytes.end());
    tail.insert(tail.end(), application.begin(), application.end());
    std::vector<std::byte> head = format::encode_header(header);
    head.resize(header.data_offset);  // zero padding up to the data
    if (auto ok = write_all(fd, path, tail, header.layout_offset); !ok) return ok;
    return write_all(fd, path, head, 0);
}

std::unique_ptr<PageStream::Buffer> PageStream::take_buffer() {
    std::unique_lock lock(mutex_);
    if (made_ < kBuffers) {
        ++made_;
        return std::make_unique<Buffer>(kBufferBytes);
    }
    wake_.wait(lock, [this] { return !free_.empty(); });
    auto buffer = std::move(free_.back());
    free_.pop_back();
    return buffer;
}

void PageStream::flush() {
    if (!current_ || used_ == 0) return;
    const std::size_t pages = used_ / kPageSize;
    std::vector<const std::byte*> starts(pages);
    for (std::size_t i = 0; i < pages; ++i) starts[i] = current_->data() + i * kPageSize;
    const std::size_t first = crcs_.size();
    crcs_.resize(first + pages);
    format::crc32c_pages(starts.data(), pages, crcs_.data() + first);
    {
        std::lock_guard lock(mutex_);
        queue_.push_back(Pending{std::move(current_), used_});
    }
    wake_.notify_all();
    used_ = 0;
}

void PageStream::stop() {
    {
        std::lock_guard lock(mutex_);
        done_ = true;
    }
    wake_.notify_all();
    if (thread_.joinable()) thread_.join();
}

void PageStream::run() {
    for (;;) {
        Pending next;
        {
            std::unique_lock lock(mutex_);
            wake_.wait(lock, [this] { return !queue_.empty() || done_; });
            if (queue_.empty()) return;
            next = std::move(queue_.front());
            queue_.pop_front();
        }
        std::vector<iovec> piece{iovec{next.buffer->data(), next.bytes}};
        if (error_ == 0) error_ = write_pieces(fd_, piece, offset_);
        offset_ += next.bytes;
        {
            std::lock_guard lock(mutex_);
            free_.push_back(std::move(next.buffer));
        }
        wake_.notify_all();
    }
}

}  // namespace guestmem::snapshot
