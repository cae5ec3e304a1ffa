// SPDX-License-Identifier: BSD-2-Clause
// Reading and checking a snapshot file's header, layout and vCPU sections.
#include "loader.hpp"

#include <fcntl.h>
#include <sys/stat.h>

#include <cerrno>
#include <cstring>

#include "../core/format.hpp"  // errno_message, hex, describe
#include "../core/regular_file.hpp"
#include "format.hpp"

namespace guestmem::snapshot {

namespace {

using format::FrameEntry;
using format::Layout;
using format::ReservationEntry;

Error bad(const std::filesystem::path& path, const std::string& why) {
    return fail(Errc::bad_snapshot, path.string() + ": " + why);
}

bool page_aligned(std::uint64_t v) { return (v & (kPageSize - 1)) == 0; }

// The checks that make a restore from the layout unable to fail on what it
// says (it can still fail on what the target VM has, or on resources).
std::string check_layout(const format::Header& h, const Layout& layout) {
    const bool diff = (h.flags & format::kFlagDiff) != 0;
    for (std::size_t i = 0; i < layout.pools.size(); ++i) {
        const Range& p = layout.pools[i];
        if (p.size == 0 || !page_aligned(p.base) || !page_aligned(p.size) || !fits_address_space(p.base, p.size)) {
            return "anonymous pool " + describe(p) + " is empty, unaligned or wraps";
        }
        if (i > 0 && layout.pools[i - 1].end() > p.base) return "anonymous pools are not in order or overlap";
    }
    auto in_pool = [&](const Range& r) {
        for (const Range& p : layout.pools) {
            if (p.contains(r.base, r.size)) return true;
        }
        return false;
    };
    auto touches_pool = [&](const Range& r) {
        for (const Range& p : layout.pools) {
            if (p.overlaps(r)) return true;
        }
        return false;
    };
    std::vector<std::uint32_t> referenced(layout.frames.size(), 0);
    for (std::size_t i = 0; i < layout.reservations.size(); ++i) {
        const ReservationEntry& e = layout.reservations[i];
        const std::string name = "reservation " + describe(e.range);
        if (e.range.size == 0 || !ends_within_address_space(e.range.base, e.range.size)) {
            return name + " is empty or wraps";
        }
        if (i > 0 && layout.reservations[i - 1].range.last() >= e.range.base) {
            return "reservations are not in address order or overlap";
        }
        if (e.anonymous) {
            if (!page_aligned(e.range.base) || !page_aligned(e.range.size) || !in_pool(e.range)) {
                return name + " is anonymous but not a page-aligned part of an anonymous pool";
            }
        } else if (touches_pool(e.range)) {
            return name + " overlaps an anonymous pool";
        }
        switch (e.kind) {
        case ReservationKind::doorbell:
            if (e.anonymous || e.mapped ||
                (e.range.size != 1 && e.range.size != 2 && e.range.size != 4 && e.range.size != 8)) {
                return name + " is a doorbell but mapped, anonymous or not of 1, 2, 4 or 8 bytes";
            }
            if (e.match && e.range.size < 8 && (*e.match >> (e.range.size * 8)) != 0) {
                return name + ": doorbell match value wider than the doorbell";
            }
            break;
        case ReservationKind::write_posting:
            if (e.anonymous || e.mapped) return name + " is write-posting but mapped or anonymous";
            break;
        case ReservationKind::ram:
            if (!e.mapped || !page_aligned(e.range.base) || !page_aligned(e.range.size)) {
                return name + " is RAM but unmapped or not page aligned";
            }
            break;
        case ReservationKind::device:
        case ReservationKind::anonymous:
            if (e.anonymous != (e.kind == ReservationKind::anonymous)) return name + ": kind and flags disagree";
            break;
        }
        if (e.kind != ReservationKind::doorbell && e.match) return name + " has a match value but is no doorbell";
        if (!e.mapped) {
            if (!e.mappings.empty()) return name + " is unmapped but lists frames";
            continue;
        }
        GuestAddr next = e.range.base;
        std::uint64_t covered = 0;
        for (const format::MappingEntry& m : e.mappings) {
            if (m.frame >= layout.frames.size()) return name + " maps frame " + std::to_string(m.frame) + " of none";
            const std::uint64_t bytes = layout.frames[m.frame].bytes();
            if (m.gpa != next || (m.gpa & (bytes - 1)) != 0 || bytes > e.range.size - covered) {
                return name + ": its frames do not cover it in order at aligned addresses";
            }
            next += bytes;
            covered += bytes;
            ++referenced[m.frame];
        }
        if (covered != e.range.size) return name + ": its frames do not cover it";
    }
    std::uint64_t stored = 0;
    for (std::size_t i = 0; i < layout.frames.size(); ++i) {
        const FrameEntry& f = layout.frames[i];
        const std::string name = "frame " + std::to_string(i);
        if (!diff && f.parent != format::kNoFrame) return name + " names a parent frame in a full snapshot";
        if (diff && f.parent == format::kNoFrame && (f.flags & format::kFrameWhole) == 0) {
            return name + " has no parent frame and is not stored whole";
        }
        const std::uint64_t pages = f.bytes() >> kPageBits;
        for (std::size_t p = 0; p < f.pages.size(); ++p) {
            const format::PageEntry& page = f.pages[p];
            if (page.index >= pages || (p > 0 && f.pages[p - 1].index >= page.index)) {
                return name + ": page indices out of range or not ascending";
            }
            if ((page.flags & ~format::kPageZero) != 0) return name + ": page with unknown flags";
            if ((page.flags & format::kPageZero) != 0) continue;
            if (!page_aligned(page.offset) || page.offset > h.data_bytes || h.data_bytes - page.offset < kPageSize) {
                return name + ": page data outside the data section";
            }
            ++stored;
        }
    }
    if (stored != h.stored_pages) return "the header's stored page count disagrees with the layout";
    // Allocated RAM may span adjacent registrations (GuestRam merges them).
    for (const Range& a : layout.allocated) {
        if (a.size == 0 || !fits_address_space(a.base, a.size)) return "allocated RAM " + describe(a) + " is empty";
        GuestAddr at = a.base;
        for (const ReservationEntry& e : layout.reservations) {
            if (e.kind == ReservationKind::ram && e.range.contains(at)) at = e.range.end();
            if (at >= a.end()) break;
        }
        if (at < a.end()) return "allocated RAM " + describe(a) + " is not all registered RAM";
    }
    return {};
}

}  // namespace

Result<void> read_exact(const LoadedFile& file, int fd, std::byte* into, std::size_t bytes, std::uint64_t offset) {
    std::size_t done = 0;
    while (done < bytes) {
        const ssize_t n = ::pread(fd, into + done, bytes - done, static_cast<off_t>(offset + done));
        if (n < 0) {
            if (errno == EINTR) continue;
            return fail(Errc::io_error, file.path.string() + ": read failed: " + errno_message(errno));
        }
        if (n == 0) return bad(file.path, "truncated: ends inside the data section");
        done += static_cast<std::size_t>(n);
    }
    return {};
}

Result<std::shared_ptr<LoadedFile>> load(const std::filesystem::path& path, bool sections) {
    auto file = std::make_shared<LoadedFile>();
    file->path = path;
    auto fd = open_regular_file(path, "snapshot");
    if (!fd) return fd.error();
    file->fd = std::move(*fd);
    struct stat st {};
    if (::fstat(file->fd.get(), &st) != 0) {
        return fail(Errc::io_error, path.string() + ": cannot stat: " + errno_message(errno));
    }
    file->file_bytes = static_cast<std::uint64_t>(st.st_size);
    file->device = st.st_dev;
    file->inode = st.st_ino;

    std::vector<std::byte> head(
        std::min<std::uint64_t>(file->file_bytes, format::kFixedHeaderBytes + 65535 + format::kApplicationFieldBytes));
    if (auto ok = read_exact(*file, file->fd.get(), head.data(), head.size(), 0); !ok) return ok.error();
    std::string why;
    auto header = format::decode_header(head, why);
    if (!header) return bad(path, why);
    const format::Header& h = *header;
    auto within = [&](std::uint64_t offset, std::uint64_t bytes) {
        return offset <= file->file_bytes && bytes <= file->file_bytes - offset;
    };
    if (!within(h.layout_offset, h.layout_bytes) || !within(h.vcpu_offset, h.vcpu_bytes) ||
        !within(h.data_offset, h.data_bytes) || !within(h.application_offset, h.application_bytes)) {
        return bad(path, "truncated: a section ends past the end of the file (" + std::to_string(file->file_bytes) +
                             " bytes)");
    }
    if (h.layout_offset < h.header_bytes || h.vcpu_offset < h.header_bytes || h.data_offset < h.header_bytes ||
        (h.application_bytes > 0 && h.application_offset < h.header_bytes)) {
        return bad(path, "a section overlaps the header");
    }
    if (h.application_bytes > format::kMaxApplicationBytes) {
        return bad(path, "the application section has " + std::to_string(h.application_bytes) +
                             " bytes, more than the " + std::to_string(format::kMaxApplicationBytes) + " allowed");
    }
    std::vector<std::byte> layout_bytes(h.layout_bytes);
    std::vector<std::byte> vcpu_bytes(h.vcpu_bytes);
    if (auto ok = read_exact(*file, file->fd.get(), layout_bytes.data(), layout_bytes.size(), h.layout_offset); !ok)
        return ok.error();
    if (auto ok = read_exact(*file, file->fd.get(), vcpu_bytes.data(), vcpu_bytes.size(), h.vcpu_offset); !ok)
        return ok.error();
    std::vector<std::byte> application(h.application_bytes);
    if (auto ok = read_exact(*file, file->fd.get(), application.data(), application.size(), h.application_offset);
        !ok) {
        return ok.error();
    }
    std::vector<std::byte> checked(head.begin(), head.begin() + h.header_bytes);
    std::memset(checked.data() + format::kChecksumOffset, 0, 4);
    std::uint32_t crc = format::crc32c(checked);
    crc = format::crc32c(layout_bytes, crc);
    crc = format::crc32c(vcpu_bytes, crc);
    crc = format::crc32c(application, crc);
    if (crc != h.checksum) return bad(path, "wrong checksum: the header, layout or vCPU section is corrupt");
    if (!sections) {
        file->header = std::move(*header);
        return file;
    }
    auto layout = format::decode_layout(layout_bytes, why);
    if (!layout) return bad(path, why);
    auto vcpus = format::decode_vcpus(vcpu_bytes, why);
    if (!vcpus) return bad(path, why);
    for (const format::VcpuEntry& v : *vcpus) {
        if (v.saved && arch_of(v.registers) != h.arch)
            return bad(path, "a vCPU's architecture differs from the file's");
    }
    if (auto problem = check_layout(h, *layout); !problem.empty()) return bad(path, problem);
    file->header = std::move(*header);
    file->layout = std::move(*layout);
    file->vcpus = std::move(*vcpus);
    file->application = std::move(application);
    return file;
}

Result<UniqueFd> reopen(const LoadedFile& file) {
    auto fd = open_regular_file(file.path, "snapshot");
    if (!fd) return fd.error();
    struct stat st {};
    if (::fstat(fd->get(), &st) != 0) {
        return fail(Errc::io_error, file.path.string() + ": cannot stat: " + errno_message(errno));
    }
    if (st.st_dev != file.device || st.st_ino != file.inode) {
        return bad(file.path, "replaced by another file since the restore read it");
    }
    return fd;
}

SnapshotInfo info_of(const LoadedFile& file) {
    const format::Header& h = file.header;
    SnapshotInfo info;
    info.format_version = h.version;
    info.diff = (h.flags & format::kFlagDiff) != 0;
    info.parent = h.parent;
    info.id = h.id;
    info.parent_id = h.parent_id;
    info.arch = h.arch;
    info.anonymous_pools = file.layout.pools;
    std::vector<bool> counted(file.layout.frames.size(), false);
    for (const format::ReservationEntry& e : file.layout.reservations) {
        ReservationRecord record;
        record.range = e.range;
        record.kind = e.kind;
        record.mapped = e.mapped;
        record.frames = e.mappings.size();
        for (const format::MappingEntry& m : e.mappings) {
            if (counted[m.frame]) continue;
            counted[m.frame] = true;
            for (const format::PageEntry& p : file.layout.frames[m.frame].pages) {
                if ((p.flags & format::kPageZero) == 0) record.stored_bytes += kPageSize;
            }
        }
        if (e.kind == ReservationKind::ram) info.ram_regions.push_back(e.range);
        info.reservations.push_back(record);
    }
    // Adjacent RAM reservations are one region, as GuestRam::regions() reports them.
    std::vector<Range> merged;
    for (const Range& r : info.ram_regions) {
        if (!merged.empty() && merged.back().end() == r.base) {
            merged.back().size += r.size;
        } else {
            merged.push_back(r);
        }
    }
    info.ram_regions = std::move(merged);
    info.frames = file.layout.frames.size();
    for (const format::FrameEntry& f : file.layout.frames) info.frame_bytes += f.bytes();
    info.stored_pages = h.stored_pages;
    info.zero_pages = h.omitted_pages;
    for (const format::VcpuEntry& v : file.vcpus) (v.saved ? info.vcpus : info.vcpus_without_state) += 1;
    info.file_bytes = file.file_bytes;
    info.application = file.application;
    return info;
}

Result<SnapshotInfo> inspect(const std::filesystem::path& path) {
    ApiCall call("snapshot::inspect");
    auto file = load(path);
    if (!file) return file.error();
    return info_of(**file);
}

}  // namespace guestmem::snapshot
