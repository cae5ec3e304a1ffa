// SPDX-License-Identifier: BSD-2-Clause
// snapshot::save: full and diff snapshots of a VM.
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstdio>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <mutex>
#include <thread>
#include <random>
#include <unordered_map>

#include "../core/format.hpp"  // errno_message, hex, describe
#include "format.hpp"
#include "guestmem/guest_ram.hpp"
#include "guestmem/snapshot.hpp"
#include "loader.hpp"
#include "registry.hpp"

namespace guestmem::snapshot {

namespace {

namespace fs = std::filesystem;

struct FrameSource {
    std::shared_ptr<const Frame> frame;
    std::vector<std::uint64_t> dirty;  // one bit per page, when the VM tracks
};

std::uint64_t new_id() {
    std::random_device device;
    std::uint64_t id = 0;
    while (id == 0) id = (std::uint64_t{device()} << 32) ^ device();
    return id;
}

// Which pages of guest memory are known to be zero without reading them:
// reading a page never written, a hole of its memfd, would allocate it
// (shmem has no shared zero page for MAP_SHARED), so a save of a sparse VM
// would double its memory. mincore() tells which pages of a memfd mapping
// are in memory; a page that is not is a hole, unless it is swapped out, so
// with pages swapped out (SwapFree < SwapTotal) a page not in memory is
// checked with lseek(SEEK_DATA) on its memfd. One mincore() covers a 32 MiB
// window of an arena, so frames of any size cost few system calls.
class Residency {
public:
    Residency() : nothing_swapped_(nothing_swapped()) {}

    // True when the page at `host` (of the memfd `fd` at `offset`) is a hole.
    bool hole(const std::byte* host, int fd, std::uint64_t offset) {
        const auto addr = reinterpret_cast<std::uintptr_t>(host);
        if (addr < base_ || addr >= base_ + pages_.size() * kPageSize) refill(host);
        const std::size_t index = (addr - base_) / kPageSize;
        if (index >= pages_.size() || (pages_[index] & 1) != 0) return false;
        if (nothing_swapped_) return true;
        const off_t data = ::lseek(fd, static_cast<off_t>(offset), SEEK_DATA);
        if (data < 0) return errno == ENXIO;
        return static_cast<std::uint64_t>(data) >= offset + kPageSize;
    }

private:
    static constexpr std::uintptr_t kWindow = std::uintptr_t{32} << 20;

    static bool nothing_swapped() {
        std::FILE* f = std::fopen("/proc/meminfo", "r");
        if (!f) return false;
        unsigned long long total = 0, free = 1;
        char line[128];
        bool have_total = false, have_free = false;
        while (std::fgets(line, sizeof line, f)) {
            have_total |= std::sscanf(line, "SwapTotal: %llu", &total) == 1;
            have_free |= std::sscanf(line, "SwapFree: %llu", &free) == 1;
        }
        std::fclose(f);
        return have_total && have_free && total == free;
    }

    void refill(const std::byte* host) {
        // The window may reach past the arena's mapping (ENOMEM): then the page alone.
        const auto addr = reinterpret_cast<std::uintptr_t>(host);
        base_ = addr & ~(kWindow - 1);
        pages_.assign(kWindow / kPageSize, 0);
        // Pointer arithmetic, not an integer cast, back to the window's start.
        if (::mincore(const_cast<std::byte*>(host) - (addr - base_), kWindow, pages_.data()) == 0) return;
        base_ = addr;
        pages_.assign(1, 0);
        if (::mincore(const_cast<std::byte*>(host), kPageSize, pages_.data()) != 0) pages_[0] = 1;  // read it
    }

    bool nothing_swapped_;
    std::uintptr_t base_ = 0;
    std::vector<unsigned char> pages_;
};

// Writes `pieces` at `offset`, in order, with as few system calls as
// IOV_MAX allows (adjacent pages are one piece). 0 or an errno value: it may
// run on DataWriter's thread, where an Error would name no API call.
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

Result<void> write_all(int fd, const fs::path& path, std::span<const std::byte> bytes, std::uint64_t offset) {
    std::vector<iovec> one{iovec{const_cast<std::byte*>(bytes.data()), bytes.size()}};
    if (const int err = write_pieces(fd, one, offset); err != 0) {
        return fail(Errc::io_error, path.string() + ": write failed: " + errno_message(err));
    }
    return {};
}

// Writes the data section on a thread of its own while save() goes on
// finding and checksumming the next pages: the copy into the file and the
// scan of guest memory then take one core each.
class DataWriter {
public:
    DataWriter(int fd, std::uint64_t offset) : fd_(fd), offset_(offset), thread_([this] { run(); }) {}
    ~DataWriter() { stop(); }
    DataWriter(const DataWriter&) = delete;
    DataWriter& operator=(const DataWriter&) = delete;

    void push(std::vector<iovec> batch) {
        {
            std::lock_guard lock(mutex_);
            queue_.push_back(std::move(batch));
        }
        wake_.notify_one();
    }
    /// Waits for every batch; 0 or the errno of the first failed write.
    int finish() {
        stop();
        return error_;
    }

private:
    void stop() {
        {
            std::lock_guard lock(mutex_);
            done_ = true;
        }
        wake_.notify_one();
        if (thread_.joinable()) thread_.join();
    }
    void run() {
        for (;;) {
            std::vector<iovec> batch;
            {
                std::unique_lock lock(mutex_);
                wake_.wait(lock, [this] { return !queue_.empty() || done_; });
                if (queue_.empty()) return;
                batch = std::move(queue_.front());
                queue_.pop_front();
            }
            std::uint64_t bytes = 0;
            for (const iovec& v : batch) bytes += v.iov_len;
            if (error_ == 0) error_ = write_pieces(fd_, batch, offset_);
            offset_ += bytes;
        }
    }

    const int fd_;
    std::uint64_t offset_;  // the writer thread's
    int error_ = 0;         // the writer thread's until it is joined
    std::mutex mutex_;
    std::condition_variable wake_;
    std::deque<std::vector<iovec>> queue_;  // mutex_
    bool done_ = false;                     // mutex_
    std::thread thread_;                    // last: starts once the rest is made
};

// The regions of `all` not in `free` (both merged and in address order).
std::vector<Range> subtract(const std::vector<Range>& all, const std::vector<Range>& free) {
    std::vector<Range> out;
    for (const Range& r : all) {
        GuestAddr at = r.base;
        for (const Range& f : free) {
            if (f.end() <= at || f.base >= r.end()) continue;
            if (f.base > at) out.push_back(Range{at, f.base - at});
            at = std::max(at, f.end());
        }
        if (at < r.end()) out.push_back(Range{at, r.end() - at});
    }
    return out;
}

class TempFile {
public:
    ~TempFile() {
        if (!name_.empty()) ::unlink(name_.c_str());
    }
    Result<void> create(const fs::path& target) {
        std::string pattern = target.string() + ".tmp-XXXXXX";
        fd_ = UniqueFd(::mkstemp(pattern.data()));
        if (fd_.get() < 0) {
            return fail(Errc::io_error, target.string() + ": cannot create a temporary file: " + errno_message(errno));
        }
        name_ = pattern;
        return {};
    }
    int fd() const { return fd_.get(); }
    Result<void> commit(const fs::path& target, bool sync) {
        if (sync && ::fsync(fd_.get()) != 0) {
            return fail(Errc::io_error, target.string() + ": fsync failed: " + errno_message(errno));
        }
        if (::rename(name_.c_str(), target.c_str()) != 0) {
            return fail(Errc::io_error, target.string() + ": rename failed: " + errno_message(errno));
        }
        name_.clear();
        return {};
    }

private:
    UniqueFd fd_;
    std::string name_;
};

}  // namespace

Result<SnapshotInfo> save(Vm& vm, const fs::path& path, const SaveOptions& options) {
    ApiCall call("snapshot::save");
    if (!vm.memory_initialized()) return fail(Errc::not_initialized, "memory is not initialised (call vm_memory_init)");
    if (path.empty() || path.filename().empty()) return fail(Errc::invalid_argument, "the path names no file");

    std::shared_ptr<LoadedFile> parent;
    std::string parent_name;
    if (options.parent) {
        if (!vm.dirty_tracking()) {
            return fail(
                Errc::invalid_argument,
                "a diff snapshot needs dirty tracking on since its parent was taken (Vm::start_dirty_tracking)");
        }
        std::error_code ec;
        const fs::path here = fs::absolute(path, ec).parent_path().lexically_normal();
        const fs::path there = fs::absolute(*options.parent, ec).parent_path().lexically_normal();
        if (here != there) {
            return fail(Errc::invalid_argument, "the parent " + options.parent->string() + " is not in the folder of " +
                                                    path.string() + " (a diff names its parent by file name)");
        }
        parent_name = options.parent->filename().string();
        if (parent_name.size() > 65535) return fail(Errc::invalid_argument, "the parent's file name is too long");
        // Its frames are known by identity (Registry): only its header is needed.
        auto loaded = load(*options.parent, /*sections=*/false);
        if (!loaded) {
            return fail(Errc::bad_snapshot, "the parent is unreadable: " + loaded.error().message);
        }
        parent = std::move(*loaded);
        const auto last = Registry::instance().last(vm);
        if (!last || *last != parent->header.id) {
            return fail(Errc::bad_snapshot, options.parent->string() +
                                                " is not the last snapshot saved from (or restored into) this VM: "
                                                "the dirty pages are relative to that one");
        }
    }

    // A deferred mapping has no frames yet: complete it, so that the file
    // has every reservation's contents (what the first access would do).
    for (const ReservationInfo& info : vm.reservations()) {
        if (info.deferred) {
            if (auto ok = vm.ensure_mapped(info.id); !ok) return ok.error();
        }
    }

    format::Layout layout;
    for (const PoolInfo& pool : vm.pools()) layout.pools.push_back(pool.range);
    layout.allocated = subtract(vm.ram().regions(), vm.ram().free_regions());

    std::vector<FrameSource> frames;
    std::unordered_map<const Frame*, std::uint64_t> index_of;
    const bool tracking = vm.dirty_tracking();
    const auto infos = vm.reservations();
    // The dirty pages, one Vm::dirty_pages call per run of adjacent mapped
    // reservations (RAM is often many adjacent registrations).
    std::vector<DirtyBitmap> dirty_runs;
    if (tracking) {
        std::vector<Range> runs;
        for (const ReservationInfo& info : infos) {
            if (!info.mapped) continue;
            if (!runs.empty() && runs.back().end() == info.range.base) {
                runs.back().size += info.range.size;
            } else {
                runs.push_back(info.range);
            }
        }
        for (const Range& r : runs) {
            auto bits = vm.dirty_pages(r.base, r.size);
            if (!bits) return bits.error();
            dirty_runs.push_back(std::move(*bits));
        }
    }
    std::size_t run = 0;
    for (const ReservationInfo& info : infos) {
        format::ReservationEntry entry;
        entry.range = info.range;
        entry.anonymous = info.anonymous;
        entry.mapped = info.mapped;
        if (vm.ram().owns(info.id)) {
            entry.kind = ReservationKind::ram;
        } else if (info.doorbell) {
            entry.kind = ReservationKind::doorbell;
            entry.match = info.doorbell_match;
        } else if (info.write_posting) {
            entry.kind = ReservationKind::write_posting;
        } else {
            entry.kind = info.anonymous ? ReservationKind::anonymous : ReservationKind::device;
        }
        if (info.mapped) {
            auto mappings = vm.frame_mappings(info.id);
            if (!mappings) return mappings.error();
            const DirtyBitmap* dirty = nullptr;
            if (tracking) {
                while (!dirty_runs[run].range.contains(info.range.base)) ++run;
                dirty = &dirty_runs[run];
            }
            for (const FrameMapping& m : *mappings) {
                auto [it, added] = index_of.emplace(m.frame.get(), frames.size());
                const std::uint64_t pages = m.frame->bytes() >> kPageBits;
                if (added) frames.push_back(FrameSource{m.frame, std::vector<std::uint64_t>((pages + 63) / 64)});
                FrameSource& source = frames[it->second];
                if (dirty) {
                    const std::uint64_t first = (m.gpa - dirty->range.base) >> kPageBits;
                    if (first % 64 == 0 && pages % 64 == 0) {
                        // Frames of 2 MiB and 1 GiB: whole words.
                        for (std::uint64_t w = 0; w < pages / 64; ++w) source.dirty[w] |= dirty->words[first / 64 + w];
                    } else {
                        for (std::uint64_t p = 0; p < pages; ++p) {
                            if (dirty->test(first + p)) source.dirty[p / 64] |= std::uint64_t{1} << (p % 64);
                        }
                    }
                }
                entry.mappings.push_back(format::MappingEntry{m.gpa, m.rights, it->second});
            }
        }
        layout.reservations.push_back(std::move(entry));
    }

    std::vector<format::VcpuEntry> vcpus;
    if (options.vcpus) {
        for (std::size_t i = 0; i < vm.vcpu_count(); ++i) {
            Vcpu* vcpu = vm.vcpu(i);
            format::VcpuEntry v;
            auto regs = vcpu->registers();
            auto sys = vcpu->system_state();
            if (regs && sys) {
                v.saved = true;
                v.registers = *regs;
                v.system = *sys;
            } else if ((!regs && regs.code() != Errc::unsupported) || (!sys && sys.code() != Errc::unsupported)) {
                return regs ? sys.error() : regs.error();
            }
            vcpus.push_back(v);
        }
    }

    format::Header header;
    header.id = new_id();
    header.parent_id = parent ? parent->header.id : 0;
    header.flags = parent ? format::kFlagDiff : 0;
    header.arch = vm.backend().arch();
    header.parent = parent_name;
    header.header_bytes = static_cast<std::uint32_t>(format::kFixedHeaderBytes + parent_name.size());
    // The data section comes first, so that pages are written while the
    // next ones are found; the layout, which lists them, follows it.
    header.data_offset = (header.header_bytes + kPageSize - 1) & ~std::uint64_t{kPageSize - 1};

    // The pages were collected from the dirty log above: if the file is not
    // written, the next diff must not name the old parent (it would miss
    // them), so the VM's last snapshot is forgotten on any failure from here.
    auto failed = [&](const Error& error) {
        if (tracking) Registry::instance().forget(vm);
        return error;
    };
    TempFile temp;
    if (auto ok = temp.create(path); !ok) return failed(ok.error());

    // Which pages go in the file, and where.
    std::unordered_map<const Frame*, std::uint64_t> in_parent;
    if (parent) in_parent = Registry::instance().frames_of(parent->header.id);
    Residency residency;
    std::uint64_t stored = 0, total_pages = 0, zero_entries = 0;
    std::vector<std::uint32_t> crcs;
    {
        DataWriter writer(temp.fd(), header.data_offset);
        std::vector<iovec> pieces;
        std::vector<const std::byte*> pending;  // stored pages of the batch, to checksum
        std::uint64_t batch_bytes = 0;
        auto flush = [&] {
            const std::size_t first = crcs.size();
            crcs.resize(first + pending.size());
            format::crc32c_pages(pending.data(), pending.size(), crcs.data() + first);
            pending.clear();
            writer.push(std::move(pieces));
            pieces.clear();
            batch_bytes = 0;
        };
        layout.frames.reserve(frames.size());
        for (const FrameSource& source : frames) {
            const Frame& frame = *source.frame;
            format::FrameEntry entry;
            entry.size_bits = static_cast<std::uint8_t>(bits_of(frame.size()));
            const std::uint64_t pages = frame.bytes() >> kPageBits;
            total_pages += pages;
            bool whole = true;
            if (parent) {
                auto it = in_parent.find(&frame);
                if (it != in_parent.end()) {
                    entry.parent = it->second;
                    whole = false;
                }
            }
            entry.flags = parent && whole ? format::kFrameWhole : 0;
            for (std::uint64_t p = 0; p < pages; ++p) {
                if (!whole) {
                    // Straight to the next dirty page: a diff visits only those.
                    std::uint64_t word = source.dirty[p / 64] >> (p % 64);
                    while (word == 0 && (p | 63) + 1 < pages) {
                        p = (p | 63) + 1;
                        word = source.dirty[p / 64];
                    }
                    if (word == 0) break;
                    p += static_cast<std::uint64_t>(__builtin_ctzll(word));
                }
                const std::byte* page = frame.host() + p * kPageSize;
                // A page written since the parent is in memory: reading it
                // allocates nothing, and asking mincore() would cost more
                // than the read (its window is mostly holes the diff skips).
                const bool zero =
                    (whole && residency.hole(page, frame.memfd(), frame.memfd_offset() + p * kPageSize)) ||
                    format::all_zero(page, kPageSize);
                format::PageEntry pe;
                pe.index = static_cast<std::uint32_t>(p);
                if (zero) {
                    // A page of the parent's frame zeroed since: it must be
                    // stored (as zero), or the parent's contents would come back.
                    if (whole) continue;
                    pe.flags = format::kPageZero;
                    ++zero_entries;
                } else {
                    pe.offset = stored * kPageSize;
                    ++stored;
                    pending.push_back(page);
                    batch_bytes += kPageSize;
                    if (!pieces.empty() &&
                        static_cast<std::byte*>(pieces.back().iov_base) + pieces.back().iov_len == page) {
                        pieces.back().iov_len += kPageSize;
                    } else {
                        pieces.push_back(iovec{const_cast<std::byte*>(page), kPageSize});
                    }
                    if (batch_bytes >= (std::uint64_t{4} << 20) || pieces.size() >= IOV_MAX) flush();
                }
                entry.pages.push_back(pe);
            }
            layout.frames.push_back(std::move(entry));
        }
        flush();
        if (const int err = writer.finish(); err != 0) {
            return failed(fail(Errc::io_error, path.string() + ": write failed: " + errno_message(err)));
        }
    }
    std::size_t next_crc = 0;
    for (format::FrameEntry& f : layout.frames) {
        for (format::PageEntry& pe : f.pages) {
            if ((pe.flags & format::kPageZero) == 0) pe.crc = crcs[next_crc++];
        }
    }

    const std::vector<std::byte> layout_bytes = format::encode_layout(layout);
    const std::vector<std::byte> vcpu_bytes = format::encode_vcpus(vcpus);
    header.data_bytes = stored * kPageSize;
    header.layout_offset = header.data_offset + header.data_bytes;
    header.layout_bytes = layout_bytes.size();
    header.vcpu_offset = header.layout_offset + header.layout_bytes;
    header.vcpu_bytes = vcpu_bytes.size();
    header.stored_pages = stored;
    header.omitted_pages = total_pages - stored - zero_entries;
    std::uint32_t crc = format::crc32c(format::encode_header(header));
    crc = format::crc32c(layout_bytes, crc);
    header.checksum = format::crc32c(vcpu_bytes, crc);

    std::vector<std::byte> tail = layout_bytes;
    tail.insert(tail.end(), vcpu_bytes.begin(), vcpu_bytes.end());
    std::vector<std::byte> head = format::encode_header(header);
    head.resize(header.data_offset);  // zero padding up to the data
    if (auto ok = write_all(temp.fd(), path, tail, header.layout_offset); !ok) return failed(ok.error());
    if (auto ok = write_all(temp.fd(), path, head, 0); !ok) return failed(ok.error());
    if (auto ok = temp.commit(path, options.sync); !ok) return failed(ok.error());

    std::vector<std::weak_ptr<const Frame>> identities;
    identities.reserve(frames.size());
    for (const FrameSource& source : frames) identities.emplace_back(source.frame);
    Registry::instance().record(vm, header.id, std::move(identities));

    LoadedFile described;
    described.path = path;
    described.file_bytes = header.vcpu_offset + header.vcpu_bytes;
    described.header = std::move(header);
    described.layout = std::move(layout);
    described.vcpus = std::move(vcpus);
    return info_of(described);
}

}  // namespace guestmem::snapshot
