// SPDX-License-Identifier: BSD-2-Clause
#include "report/snapshot_summary.hpp"

#include <cstdio>
#include <sstream>

#include "report/units.hpp"

namespace vmm {

namespace {

const char* kind_name(guestmem::snapshot::ReservationKind kind) {
    using K = guestmem::snapshot::ReservationKind;
    switch (kind) {
    case K::device: return "device";
    case K::anonymous: return "anonymous";
    case K::ram: return "RAM";
    case K::doorbell: return "doorbell";
    case K::write_posting: return "write-posting";
    }
    return "?";
}

std::string range_text(const guestmem::Range& r) {
    char text[64];
    const guestmem::GuestAddr last = r.last();
    std::snprintf(text, sizeof text, "0x%012llx-0x%012llx", static_cast<unsigned long long>(r.base),
                  static_cast<unsigned long long>(last));
    return text;
}

}  // namespace

std::string snapshot_summary(const std::string& file, const guestmem::snapshot::SnapshotInfo& info) {
    std::ostringstream out;
    char id[32];
    std::snprintf(id, sizeof id, "%016llx", static_cast<unsigned long long>(info.id));
    out << "Snapshot " << file << "\n"
        << "  format version " << info.format_version << ", " << (info.diff ? "diff" : "full") << ", id " << id << "\n";
    if (info.diff) {
        std::snprintf(id, sizeof id, "%016llx", static_cast<unsigned long long>(info.parent_id));
        out << "  parent " << info.parent << " (id " << id << ")\n";
    }
    out << "  architecture " << guestmem::to_string(info.arch) << ", " << info.vcpus << " vCPU state"
        << (info.vcpus == 1 ? "" : "s") << "\n\n";
    out << "  range                          kind           frames  stored\n";
    for (const auto& r : info.reservations) {
        char line[160];
        std::snprintf(line, sizeof line, "  %-30s %-13s %7llu  %s\n", range_text(r.range).c_str(), kind_name(r.kind),
                      static_cast<unsigned long long>(r.frames), human_size(r.stored_bytes).c_str());
        out << line;
    }
    for (const auto& pool : info.anonymous_pools) out << "  anonymous pool " << range_text(pool) << "\n";
    for (const auto& ram : info.ram_regions) out << "  RAM region " << range_text(ram) << "\n";
    out << "\n  " << info.frames << " frames (" << human_size(info.frame_bytes) << "), " << info.stored_pages
        << " pages stored, " << info.zero_pages << (info.diff ? " unchanged" : " zero") << " pages omitted; file "
        << human_size(info.file_bytes) << "\n";
    return out.str();
}

}  // namespace vmm
