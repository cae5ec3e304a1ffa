// SPDX-License-Identifier: BSD-2-Clause
#include "snapshots.hpp"

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <set>
#include <sstream>
#include <system_error>

#include "cli_numbers.hpp"
#include "machine.hpp"
#include "platform_layout.hpp"

namespace vmm {

using guestmem::Errc;
using guestmem::fail;
using guestmem::Result;

namespace {

constexpr const char* kRecordMagic = "guestmem-vmm-snapshot-record 1";

std::string to_hex(const std::string& bytes) {
    static constexpr char kDigits[] = "0123456789abcdef";
    std::string out;
    out.reserve(bytes.size() * 2);
    for (unsigned char c : bytes) {
        out.push_back(kDigits[c >> 4]);
        out.push_back(kDigits[c & 15]);
    }
    return out;
}

std::optional<std::string> from_hex(const std::string& text) {
    if (text.size() % 2 != 0) return std::nullopt;
    std::string out;
    out.reserve(text.size() / 2);
    for (std::size_t i = 0; i < text.size(); i += 2) {
        unsigned value = 0;
        if (std::sscanf(text.c_str() + i, "%2x", &value) != 1) return std::nullopt;
        out.push_back(static_cast<char>(value));
    }
    return out;
}

}  // namespace

std::vector<std::byte> encode_record(const MachineRecord& record) {
    std::ostringstream out;
    out << kRecordMagic << "\n"
        << "guest " << record.guest << "\n"
        << "arch " << guestmem::to_string(record.arch) << "\n"
        << "ram " << record.ram_size << "\n"
        << "deferred-ram " << (record.deferred_ram ? 1 : 0) << "\n"
        << "uart-regs " << to_hex(std::string(record.uart.regs.begin(), record.uart.regs.end())) << "\n"
        << "uart-divisor " << unsigned{record.uart.divisor_low} << " " << unsigned{record.uart.divisor_high} << "\n"
        << "uart-output " << to_hex(record.uart.transmitted) << "\n";
    const std::string text = out.str();
    const auto* bytes = reinterpret_cast<const std::byte*>(text.data());
    return {bytes, bytes + text.size()};
}

namespace {

// The record's lines, from `where` (named in messages). A snapshot's
// checksum says the file is as written, not that whoever wrote it was this
// VMM: every value is checked as the command line's would be.
Result<MachineRecord> parse_record(std::istream& in, const std::string& where) {
    auto bad = [&](const std::string& why) { return fail(Errc::bad_snapshot, where + ": " + why); };
    std::string line;
    if (!std::getline(in, line) || line != kRecordMagic) return bad("not a guestmem-vmm snapshot record");
    MachineRecord record;
    std::set<std::string> seen;
    while (std::getline(in, line)) {
        std::istringstream words(line);
        std::string key;
        words >> key;
        if (key.empty()) continue;
        std::string rest;
        std::getline(words >> std::ws, rest);
        if (!seen.insert(key).second) return bad("\"" + key + "\" appears twice");
        if (key == "guest") {
            const bool printable =
                std::all_of(rest.begin(), rest.end(), [](unsigned char c) { return c >= 0x20 && c < 0x7f; });
            if (rest.empty() || !printable) return bad("the guest's name is empty or not printable text");
            record.guest = rest;
        } else if (key == "arch") {
            auto arch = guestmem::arch_from_string(rest);
            if (!arch) return bad("unknown architecture " + rest);
            record.arch = *arch;
        } else if (key == "ram") {
            auto size = parse_count(rest);
            if (!size || !layout::valid_ram_size(*size)) {
                return bad("RAM size \"" + rest + "\" is not a size from 2 MiB to 4064 MiB in 4 KiB steps");
            }
            record.ram_size = *size;
        } else if (key == "deferred-ram") {
            if (rest != "0" && rest != "1") return bad("deferred-ram is \"" + rest + "\", not 0 or 1");
            record.deferred_ram = rest == "1";
        } else if (key == "uart-regs") {
            auto regs = from_hex(rest);
            if (!regs || regs->size() != record.uart.regs.size()) return bad("malformed uart-regs");
            std::memcpy(record.uart.regs.data(), regs->data(), regs->size());
        } else if (key == "uart-divisor") {
            std::istringstream values(rest);
            std::string low, high, extra;
            values >> low >> high >> extra;
            auto lo = parse_count(low), hi = parse_count(high);
            if (!lo || !hi || *lo > 255 || *hi > 255 || !extra.empty()) return bad("malformed uart-divisor");
            record.uart.divisor_low = static_cast<std::uint8_t>(*lo);
            record.uart.divisor_high = static_cast<std::uint8_t>(*hi);
        } else if (key == "uart-output") {
            auto output = from_hex(rest);
            if (!output) return bad("malformed uart-output");
            record.uart.transmitted = std::move(*output);
        } else {
            return bad("unknown line \"" + key + "\"");
        }
    }
    if (!seen.count("arch") || !seen.count("ram") || !seen.count("guest")) return bad("guest, arch or ram missing");
    return record;
}

// The snapshot's RAM is the record's: [0, ram) is mapped and ends there.
Result<void> check_ram_against_layout(const MachineRecord& record, const guestmem::snapshot::SnapshotInfo& info,
                                      const std::string& where) {
    const guestmem::GuestAddr last = layout::kRamBase + record.ram_size - 1;
    for (const auto& r : info.reservations) {
        if (!r.range.contains(last)) continue;
        if (r.mapped && r.range.end() == last + 1) return {};
        break;
    }
    return fail(Errc::bad_snapshot, where + ": the record's RAM size, " + std::to_string(record.ram_size) +
                                        " bytes, is not the RAM the snapshot's layout has");
}

}  // namespace

Result<MachineRecord> read_record(const std::filesystem::path& snapshot) {
    auto info = guestmem::snapshot::inspect(snapshot);
    if (!info) return info.error();
    if (!info->application.empty()) {
        std::istringstream in(
            std::string(reinterpret_cast<const char*>(info->application.data()), info->application.size()));
        const std::string where = snapshot.string() + " (the VMM's record inside the snapshot)";
        auto record = parse_record(in, where);
        if (!record) return record.error();
        if (auto ok = check_ram_against_layout(*record, *info, where); !ok) return ok.error();
        return record;
    }
    // Saved before the record moved inside the file: FILE.vmm beside it.
    std::filesystem::path sidecar = snapshot;
    sidecar += ".vmm";
    std::error_code ec;
    if (!std::filesystem::is_regular_file(sidecar, ec)) {
        return fail(Errc::bad_snapshot, snapshot.string() +
                                            " holds no guestmem-vmm machine record: it was not saved by "
                                            "guestmem-vmm run --snapshot-every (older versions kept the record "
                                            "beside the snapshot as " +
                                            sidecar.filename().string() + ", which is not there either)");
    }
    std::ifstream in(sidecar);
    if (!in) return fail(Errc::io_error, "cannot read " + sidecar.string() + " (the VMM's record of the snapshot)");
    auto record = parse_record(in, sidecar.string());
    if (!record) return record.error();
    if (auto ok = check_ram_against_layout(*record, *info, sidecar.string()); !ok) return ok.error();
    return record;
}

Result<SnapshotSeries> SnapshotSeries::open(const std::filesystem::path& dir) {
    std::error_code ec;
    std::filesystem::create_directories(dir, ec);
    if (ec) return fail(Errc::io_error, "cannot create " + dir.string() + ": " + ec.message());
    return SnapshotSeries(dir);
}

std::filesystem::path SnapshotSeries::file(unsigned index) const {
    char name[32];
    std::snprintf(name, sizeof name, "snap-%04u.gms", index);
    return dir_ / name;
}

Result<guestmem::snapshot::SnapshotInfo> SnapshotSeries::take(Machine& machine, const std::string& guest) {
    guestmem::Vm& vm = machine.vm();
    guestmem::snapshot::SaveOptions options;
    if (count_ == 0) {
        // From the full snapshot on, diffs need the pages written since.
        if (!vm.dirty_tracking()) {
            if (auto ok = vm.start_dirty_tracking(); !ok) return ok.error();
        }
    } else {
        options.parent = file(count_ - 1);
    }
    const auto path = file(count_);
    const MachineRecord record{guest, machine.options().arch, machine.options().ram_size,
                               machine.options().deferred_ram, machine.uart().state()};
    options.application = encode_record(record);
    auto info = guestmem::snapshot::save(vm, path, options);
    if (!info) return info.error();
    // LATEST moves only once the snapshot is complete.
    const auto latest = dir_ / "LATEST";
    const auto staging = dir_ / "LATEST.new";
    std::error_code ec;
    std::filesystem::remove(staging, ec);
    std::filesystem::create_symlink(path.filename(), staging, ec);
    if (!ec) std::filesystem::rename(staging, latest, ec);
    if (ec)
        return fail(Errc::io_error, "cannot point " + latest.string() + " at " + path.string() + ": " + ec.message());
    ++count_;
    return info;
}

}  // namespace vmm
