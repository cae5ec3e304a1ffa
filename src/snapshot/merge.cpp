// SPDX-License-Identifier: BSD-2-Clause
// snapshot::merge: a diff chain written out as one full snapshot.
#include <sys/mman.h>

#include <cstring>

#include "../core/format.hpp"  // errno_message
#include "chain.hpp"
#include "format.hpp"
#include "guestmem/snapshot.hpp"
#include "page_stream.hpp"
#include "temp_file.hpp"

namespace guestmem::snapshot {

namespace {

namespace fs = std::filesystem;

// Memory for one frame at a time, reserved once for the largest frame and
// cleared between frames (what ChainReader::fill does not write must read
// as zero). Large frames are cleared by dropping their pages, so a sparse
// 1 GiB frame costs only the pages the chain stores.
class FrameBuffer {
public:
    ~FrameBuffer() {
        if (memory_) ::munmap(memory_, bytes_);
    }
    FrameBuffer() = default;
    FrameBuffer(const FrameBuffer&) = delete;
    FrameBuffer& operator=(const FrameBuffer&) = delete;

    Result<void> reserve(std::uint64_t bytes) {
        if (bytes == 0) return {};
        void* p = ::mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
        if (p == MAP_FAILED) {
            return fail(Errc::out_of_memory,
                        "cannot map " + std::to_string(bytes) + " bytes for a frame: " + errno_message(errno));
        }
        memory_ = static_cast<std::byte*>(p);
        bytes_ = bytes;
        return {};
    }
    std::byte* data() const { return memory_; }
    void clear(std::uint64_t bytes) {
        if (bytes <= (std::uint64_t{2} << 20)) {
            std::memset(memory_, 0, bytes);
        } else {
            ::madvise(memory_, bytes, MADV_DONTNEED);  // anonymous private memory reads as zero again
        }
    }

private:
    std::byte* memory_ = nullptr;
    std::uint64_t bytes_ = 0;
};

}  // namespace

Result<SnapshotInfo> merge(const fs::path& from, const fs::path& to, bool sync) {
    ApiCall call("snapshot::merge");
    if (to.empty() || to.filename().empty()) return fail(Errc::invalid_argument, "the path names no file");
    auto loaded = load_chain(from);
    if (!loaded) return loaded.error();
    // `to` may replace the newest file, never a parent: the newer files of
    // the chain would then name a snapshot that is not there any more.
    for (std::size_t level = 1; level < loaded->size(); ++level) {
        std::error_code ec;
        if (fs::equivalent(to, (*loaded)[level]->path, ec)) {
            return fail(Errc::invalid_argument, to.string() + " is a parent in the chain of " + from.string() +
                                                    ": replacing it would break the files after it (write the "
                                                    "merged snapshot elsewhere, or over " +
                                                    from.string() + " itself)");
        }
    }
    ChainReader reader(std::move(*loaded));
    const LoadedFile& top = reader.top();

    std::uint64_t largest = 0;
    for (const format::FrameEntry& f : top.layout.frames) largest = std::max(largest, f.bytes());
    FrameBuffer buffer;
    if (auto ok = buffer.reserve(largest); !ok) return ok.error();

    remove_stale_temp_files(fs::absolute(to).parent_path());
    TempFile temp;
    if (auto ok = temp.create(to); !ok) return ok.error();
    format::Header header;
    header.id = top.header.id;  // the same snapshot: a diff of it may name the merged file
    header.arch = top.header.arch;
    header.header_bytes = header.length();
    header.data_offset = (header.header_bytes + kPageSize - 1) & ~std::uint64_t{kPageSize - 1};

    format::Layout layout = top.layout;
    std::uint64_t total_pages = 0;
    PageStream stream(temp.fd(), header.data_offset);
    for (std::size_t index = 0; index < layout.frames.size(); ++index) {
        format::FrameEntry& frame = layout.frames[index];
        const std::uint64_t bytes = frame.bytes();
        buffer.clear(bytes);
        if (auto ok = reader.fill(index, buffer.data()); !ok) return ok.error();
        frame.flags = 0;
        frame.parent = format::kNoFrame;
        frame.pages.clear();
        const std::uint64_t pages = bytes >> kPageBits;
        total_pages += pages;
        for (std::uint64_t p = 0; p < pages; ++p) {
            const std::uint64_t at = stream.stored();
            if (!stream.add(buffer.data() + p * kPageSize)) continue;  // zero: omitted
            frame.pages.push_back(format::PageEntry{static_cast<std::uint32_t>(p), 0, 0, at * kPageSize});
        }
    }
    if (const int err = stream.finish(); err != 0) {
        return fail(Errc::io_error, to.string() + ": write failed: " + errno_message(err));
    }
    std::size_t next_crc = 0;
    for (format::FrameEntry& f : layout.frames) {
        for (format::PageEntry& pe : f.pages) pe.crc = stream.crcs()[next_crc++];
    }
    header.data_bytes = stream.stored() * kPageSize;
    header.stored_pages = stream.stored();
    header.omitted_pages = total_pages - stream.stored();
    if (auto ok = write_sections(temp.fd(), to, header, layout, top.vcpus, top.application); !ok) return ok.error();
    // Every read of the chain is done: `to` may be one of its own files.
    if (auto ok = temp.commit(to, sync); !ok) return ok.error();

    LoadedFile described;
    described.path = to;
    described.file_bytes = header.application_offset + header.application_bytes;
    described.header = std::move(header);
    described.layout = std::move(layout);
    described.vcpus = top.vcpus;
    described.application = top.application;
    return info_of(described);
}

}  // namespace guestmem::snapshot
