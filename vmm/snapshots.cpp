// SPDX-License-Identifier: BSD-2-Clause
#include "snapshots.hpp"

#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>
#include <system_error>

#include "machine.hpp"

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

// The record's lines, from `where` (named in messages).
Result<MachineRecord> parse_record(std::istream& in, const std::string& where) {
    auto bad = [&](const std::string& why) { return fail(Errc::bad_snapshot, where + ": " + why); };
    std::string line;
    if (!std::getline(in, line) || line != kRecordMagic) return bad("not a guestmem-vmm snapshot record");
    MachineRecord record;
    bool have_arch = false, have_ram = false;
    while (std::getline(in, line)) {
        std::istringstream words(line);
        std::string key;
        words >> key;
        std::string rest;
        std::getline(words >> std::ws, rest);
        if (key == "guest") {
            record.guest = rest;
        } else if (key == "arch") {
            auto arch = guestmem::arch_from_string(rest);
            if (!arch) return bad("unknown architecture " + rest);
            record.arch = *arch;
            have_arch = true;
        } else if (key == "ram") {
            std::istringstream(rest) >> record.ram_size;
            have_ram = record.ram_size != 0;
        } else if (key == "deferred-ram") {
            record.deferred_ram = rest == "1";
        } else if (key == "uart-regs") {
            auto regs = from_hex(rest);
            if (!regs || regs->size() != record.uart.regs.size()) return bad("malformed uart-regs");
            std::memcpy(record.uart.regs.data(), regs->data(), regs->size());
        } else if (key == "uart-divisor") {
            unsigned lo = 0, hi = 0;
            std::istringstream(rest) >> lo >> hi;
            record.uart.divisor_low = static_cast<std::uint8_t>(lo);
            record.uart.divisor_high = static_cast<std::uint8_t>(hi);
        } else if (key == "uart-output") {
            auto output = from_hex(rest);
            if (!output) return bad("malformed uart-output");
            record.uart.transmitted = std::move(*output);
        } else if (!key.empty()) {
            return bad("unknown line \"" + key + "\"");
        }
    }
    if (!have_arch || !have_ram) return bad("arch or ram missing");
    return record;
}

}  // namespace

Result<MachineRecord> read_record(const std::filesystem::path& snapshot) {
    auto info = guestmem::snapshot::inspect(snapshot);
    if (!info) return info.error();
    if (!info->application.empty()) {
        std::istringstream in(
            std::string(reinterpret_cast<const char*>(info->application.data()), info->application.size()));
        return parse_record(in, snapshot.string() + " (the VMM's record inside the snapshot)");
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
    return parse_record(in, sidecar.string());
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
