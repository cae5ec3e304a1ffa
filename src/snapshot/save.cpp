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
#include "guestmem/guest_memory.hpp"
#include "guestmem/guest_ram.hpp"
#include "guestmem/snapshot.hpp"
#include "loader.hpp"
#include "page_stream.hpp"
#include "registry.hpp"
#include "temp_file.hpp"

namespace guestmem::snapshot {

namespace {

namespace fs = std::filesystem;

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

// The parts of `ranges` inside `within` (both in address order).
std::vector<Range> intersect(const std::vector<Range>& ranges, const std::vector<Range>& within) {
    std::vector<Range> out;
    for (const Range& r : ranges) {
        for (const Range& w : within) {
            const GuestAddr from = std::max(r.base, w.base);
            const GuestAddr to = std::min(r.end(), w.end());
            if (from < to) out.push_back(Range{from, to - from});
        }
    }
    return out;
}

// The parent a diff names, checked: in the folder of the new file, readable,
// and the VM's last snapshot (its dirty pages are relative to that one).
Result<std::shared_ptr<LoadedFile>> checked_parent(Vm& vm, const fs::path& path, const fs::path& parent) {
    if (!vm.dirty_tracking()) {
        return fail(Errc::invalid_argument,
                    "a diff snapshot needs dirty tracking on since its parent was taken (Vm::start_dirty_tracking)");
    }
    std::error_code ec;
    const fs::path here = fs::absolute(path, ec).parent_path().lexically_normal();
    const fs::path there = fs::absolute(parent, ec).parent_path().lexically_normal();
    if (here != there) {
        return fail(Errc::invalid_argument, "the parent " + parent.string() + " is not in the folder of " +
                                                path.string() + " (a diff names its parent by file name)");
    }
    if (parent.filename().string().size() > 65535) {
        return fail(Errc::invalid_argument, "the parent's file name is too long");
    }
    // Its frames are known by identity (Registry): only its header is needed.
    auto loaded = load(parent, /*sections=*/false);
    if (!loaded) return fail(Errc::bad_snapshot, "the parent is unreadable: " + loaded.error().message);
    const auto last = Registry::instance().last(vm);
    if (!last || last->id != (*loaded)->header.id) {
        return fail(Errc::bad_snapshot, parent.string() +
                                            " is not the last snapshot saved from (or restored into) this VM: "
                                            "the dirty pages are relative to that one");
    }
    if (last->tracking_session != vm.dirty_tracking_starts()) {
        return fail(Errc::invalid_argument,
                    "dirty tracking was not on without a break since " + parent.string() +
                        " was taken (it was stopped, or started after it): the pages written in between are "
                        "unknown; take a full snapshot first");
    }
    return std::move(*loaded);
}

// The address space at one instant, with every deferred mapping completed
// (the file must have every reservation's contents, as a first access would
// map them). Other threads may reserve and free meanwhile: a deferred
// reservation freed before it could be mapped is simply gone from the next
// look, and one made while this runs is mapped in the next round.
Result<AddressSpaceLayout> settled_layout(Vm& vm) {
    constexpr int kRounds = 4;
    for (int round = 0; round < kRounds; ++round) {
        auto map = vm.layout();
        if (!map) return map.error();
        bool deferred = false;
        for (const ReservationLayout& r : map->reservations) {
            if (!r.info.deferred) continue;
            deferred = true;
            auto ok = vm.ensure_mapped(r.info.id);
            if (!ok && ok.code() != Errc::unknown_reservation) return ok.error();
        }
        if (!deferred) return map;
    }
    return fail(Errc::invalid_argument, "reservations with deferred mappings kept appearing while the snapshot "
                                        "was being taken (" +
                                            std::to_string(kRounds) + " rounds); nothing was saved");
}

// The file's layout (frame table without pages) and the frames it lists, by identity.
struct SavePlan {
    format::Layout layout;
    std::vector<std::shared_ptr<const Frame>> frames;
};

format::ReservationEntry entry_of(const Vm& vm, const ReservationInfo& info) {
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
    return entry;
}

SavePlan plan_of(const Vm& vm, const AddressSpaceLayout& map) {
    SavePlan plan;
    for (const PoolInfo& pool : map.pools) plan.layout.pools.push_back(pool.range);
    std::unordered_map<const Frame*, std::uint64_t> index_of;
    std::vector<Range> ram;
    for (const ReservationLayout& r : map.reservations) {
        format::ReservationEntry entry = entry_of(vm, r.info);
        if (entry.kind == ReservationKind::ram) ram.push_back(r.info.range);
        for (const FrameMapping& m : r.frames) {
            auto [it, added] = index_of.emplace(m.frame.get(), plan.frames.size());
            if (added) plan.frames.push_back(m.frame);
            entry.mappings.push_back(format::MappingEntry{m.gpa, m.rights, it->second});
        }
        plan.layout.reservations.push_back(std::move(entry));
    }
    // RAM registered after the layout was taken is not in the file, and so
    // neither is its allocation (RAM is never unregistered).
    plan.layout.allocated = intersect(subtract(vm.ram().regions(), vm.ram().free_regions()), ram);
    return plan;
}

Result<std::vector<format::VcpuEntry>> vcpu_entries(Vm& vm) {
    std::vector<format::VcpuEntry> vcpus;
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
    return vcpus;
}

// Which pages of each frame go in the file, copied into `stream` in order;
// fills the frame table's page lists (checksums come after the stream ends).
struct PageCounts {
    std::uint64_t total = 0;
    std::uint64_t zero_entries = 0;
};

PageCounts stream_pages(SavePlan& plan, const std::vector<std::vector<std::uint64_t>>& dirty,
                        const std::unordered_map<const Frame*, std::uint64_t>& in_parent, bool diff,
                        PageStream& stream) {
    Residency residency;
    PageCounts counts;
    plan.layout.frames.reserve(plan.frames.size());
    for (std::size_t f = 0; f < plan.frames.size(); ++f) {
        const Frame& frame = *plan.frames[f];
        format::FrameEntry entry;
        entry.size_bits = static_cast<std::uint8_t>(bits_of(frame.size()));
        const std::uint64_t pages = frame.bytes() >> kPageBits;
        counts.total += pages;
        bool whole = true;
        if (diff) {
            auto it = in_parent.find(&frame);
            if (it != in_parent.end()) {
                entry.parent = it->second;
                whole = false;
            }
        }
        entry.flags = diff && whole ? format::kFrameWhole : 0;
        for (std::uint64_t p = 0; p < pages; ++p) {
            if (!whole) {
                // Straight to the next dirty page: a diff visits only those.
                std::uint64_t word = dirty[f][p / 64] >> (p % 64);
                while (word == 0 && (p | 63) + 1 < pages) {
                    p = (p | 63) + 1;
                    word = dirty[f][p / 64];
                }
                if (word == 0) break;
                p += static_cast<std::uint64_t>(__builtin_ctzll(word));
            }
            const std::byte* page = frame.host() + p * kPageSize;
            format::PageEntry pe;
            pe.index = static_cast<std::uint32_t>(p);
            // A hole of the memfd is zero without reading it (a read would
            // allocate it). A page written since the parent is in memory:
            // asking mincore() would cost more than the copy.
            const bool hole = whole && residency.hole(page, frame.memfd(), frame.memfd_offset() + p * kPageSize);
            const std::uint64_t index = stream.stored();
            if (!hole && stream.add(page)) {
                pe.offset = index * kPageSize;
            } else {
                // A page of the parent's frame zeroed since: it must be
                // stored (as zero), or the parent's contents would come back.
                if (whole) continue;
                pe.flags = format::kPageZero;
                ++counts.zero_entries;
            }
            entry.pages.push_back(pe);
        }
        plan.layout.frames.push_back(std::move(entry));
    }
    return counts;
}

}  // namespace

Result<SnapshotInfo> save(Vm& vm, const fs::path& path, const SaveOptions& options) {
    ApiCall call("snapshot::save");
    if (!vm.memory_initialized()) return fail(Errc::not_initialized, "memory is not initialised (call vm_memory_init)");
    if (path.empty() || path.filename().empty()) return fail(Errc::invalid_argument, "the path names no file");
    if (options.application.size() > format::kMaxApplicationBytes) {
        return fail(Errc::invalid_argument, "the application data has " + std::to_string(options.application.size()) +
                                                " bytes, more than the " +
                                                std::to_string(format::kMaxApplicationBytes) + " a snapshot keeps");
    }

    std::shared_ptr<LoadedFile> parent;
    if (options.parent) {
        auto checked = checked_parent(vm, path, *options.parent);
        if (!checked) return checked.error();
        parent = std::move(*checked);
    }
    // Everything that can fail without writing comes before the dirty pages
    // are collected: a save that fails there has changed nothing.
    auto map = settled_layout(vm);
    if (!map) return map.error();
    SavePlan plan = plan_of(vm, *map);
    map->reservations.clear();  // the plan holds the frames now
    std::vector<format::VcpuEntry> vcpus;
    if (options.vcpus) {
        auto entries = vcpu_entries(vm);
        if (!entries) return entries.error();
        vcpus = std::move(*entries);
    }
    remove_stale_temp_files(fs::absolute(path).parent_path());
    TempFile temp;
    if (auto ok = temp.create(path); !ok) return ok.error();

    // Collected (and so cleared) here: the next diff is relative to this
    // snapshot. If the file is not written, the pages are marked dirty again,
    // so the next diff against the last good snapshot still has them.
    const bool tracking = vm.dirty_tracking();
    const std::uint64_t session = vm.dirty_tracking_starts();
    if (parent && !tracking) {
        return fail(Errc::invalid_argument, "dirty tracking was stopped while the diff snapshot was being taken");
    }
    std::vector<std::vector<std::uint64_t>> dirty;
    if (tracking) {
        auto collected = vm.dirty_frame_pages(plan.frames);
        if (!collected) return collected.error();
        dirty = std::move(*collected);
        if (vm.dirty_tracking_starts() != session) {
            // Restarted meanwhile: the pages collected do not cover the
            // session this snapshot would be the parent in.
            Registry::instance().forget(vm);
            return fail(Errc::invalid_argument, "dirty tracking was stopped and started again while the snapshot "
                                                "was being taken; nothing was saved");
        }
    }
    auto failed = [&](const Error& error) {
        if (tracking) (void)vm.redirty_frame_pages(plan.frames, dirty);
        return error;
    };

    format::Header header;
    header.id = new_id();
    header.parent_id = parent ? parent->header.id : 0;
    header.flags = parent ? format::kFlagDiff : 0;
    header.arch = vm.backend().arch();
    header.parent = parent ? options.parent->filename().string() : std::string{};
    header.header_bytes = header.length();
    // The data section comes first, so that pages are written while the
    // next ones are found; the layout, which lists them, follows it.
    header.data_offset = (header.header_bytes + kPageSize - 1) & ~std::uint64_t{kPageSize - 1};

    std::unordered_map<const Frame*, std::uint64_t> in_parent;
    if (parent) in_parent = Registry::instance().frames_of(parent->header.id);
    PageStream stream(temp.fd(), header.data_offset);
    const PageCounts counts = stream_pages(plan, dirty, in_parent, parent != nullptr, stream);
    if (const int err = stream.finish(); err != 0) {
        return failed(fail(Errc::io_error, path.string() + ": write failed: " + errno_message(err)));
    }
    std::size_t next_crc = 0;
    for (format::FrameEntry& f : plan.layout.frames) {
        for (format::PageEntry& pe : f.pages) {
            if ((pe.flags & format::kPageZero) == 0) pe.crc = stream.crcs()[next_crc++];
        }
    }

    header.data_bytes = stream.stored() * kPageSize;
    header.stored_pages = stream.stored();
    header.omitted_pages = counts.total - stream.stored() - counts.zero_entries;
    if (auto ok = write_sections(temp.fd(), path, header, plan.layout, vcpus, options.application); !ok) {
        return failed(ok.error());
    }
    if (auto ok = temp.commit(path, options.sync); !ok) return failed(ok.error());

    std::vector<std::weak_ptr<const Frame>> identities(plan.frames.begin(), plan.frames.end());
    // A parent of diffs in this tracking session only (none without tracking).
    Registry::instance().record(vm, header.id, std::move(identities), tracking ? session : 0);

    LoadedFile described;
    described.path = path;
    described.file_bytes = header.application_offset + header.application_bytes;
    described.header = std::move(header);
    described.layout = std::move(plan.layout);
    described.vcpus = std::move(vcpus);
    described.application = options.application;
    return info_of(described);
}

}  // namespace guestmem::snapshot
