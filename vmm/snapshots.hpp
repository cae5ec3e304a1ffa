// SPDX-License-Identifier: BSD-2-Clause
// The demo VMM's snapshots: a series of snapshot files in a folder (a full
// one, then diffs), each with a record of what the VMM itself must restore.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>

#include "devices/uart.hpp"
#include "guestmem/arch.hpp"
#include "guestmem/error.hpp"
#include "guestmem/snapshot.hpp"

namespace vmm {

class Machine;

/// What a snapshot file does not hold and the VMM needs to continue: how the
/// machine was built and the state of its devices. Kept beside the snapshot
/// as FILE.vmm, in "key value" lines.
struct MachineRecord {
    std::string guest;  ///< what ran (a bundled guest's name or an image path), for people
    guestmem::Arch arch = guestmem::Arch::x86_64;
    std::uint64_t ram_size = 0;
    bool deferred_ram = false;
    Uart::State uart;
};

/// FILE.vmm for snapshot FILE.
std::filesystem::path record_path(const std::filesystem::path& snapshot);
/// Writes the record of `snapshot`. Errors: Errc::io_error.
guestmem::Result<void> write_record(const std::filesystem::path& snapshot, const MachineRecord& record);
/// Reads it. Errors: Errc::io_error (missing), Errc::bad_snapshot (malformed).
guestmem::Result<MachineRecord> read_record(const std::filesystem::path& snapshot);

/// Snapshots of one machine into a folder: snap-0000.gms is full, each later
/// one a diff against the one before; LATEST is a symbolic link to the newest.
/// The machine's VM tracks dirty pages from the first snapshot on.
///
/// Thread safety: one thread; take() only while the machine's vCPUs are stopped.
class SnapshotSeries {
public:
    /// A series in `dir` (created if missing). Errors: Errc::io_error.
    static guestmem::Result<SnapshotSeries> open(const std::filesystem::path& dir);

    /// Writes the next snapshot of `machine` and its record. Errors: those
    /// of guestmem::snapshot::save, Errc::io_error.
    guestmem::Result<guestmem::snapshot::SnapshotInfo> take(Machine& machine, const std::string& guest);
    /// Snapshots written so far.
    unsigned count() const { return count_; }

private:
    explicit SnapshotSeries(std::filesystem::path dir) : dir_(std::move(dir)) {}
    std::filesystem::path file(unsigned index) const;

    std::filesystem::path dir_;
    unsigned count_ = 0;
};

}  // namespace vmm
