// SPDX-License-Identifier: BSD-2-Clause
// The demo VMM's snapshots: a series of snapshot files in a folder (a full
// one, then diffs), each holding a record of what the VMM itself must restore.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "devices/uart.hpp"
#include "guestmem/arch.hpp"
#include "guestmem/error.hpp"
#include "guestmem/snapshot.hpp"

namespace vmm {

class Machine;

/// What the library's part of a snapshot does not hold and the VMM needs to
/// continue: how the machine was built and the state of its devices. Kept
/// inside the snapshot file, in its application section
/// (guestmem::snapshot::SaveOptions::application), as "key value" lines: a
/// snapshot file is all a restore needs. (Versions before the application
/// section kept the same lines beside the snapshot, as FILE.vmm; such a
/// file is still read.)
struct MachineRecord {
    std::string guest;  ///< what ran (a bundled guest's name or an image path), for people
    guestmem::Arch arch = guestmem::Arch::x86_64;
    std::uint64_t ram_size = 0;
    bool deferred_ram = false;
    Uart::State uart;
};

/// The record as the bytes of a snapshot's application section.
std::vector<std::byte> encode_record(const MachineRecord& record);
/// Reads the record of `snapshot`: from its application section, or, for a
/// snapshot saved before records moved inside, from FILE.vmm beside it.
/// Errors: those of guestmem::snapshot::inspect, Errc::bad_snapshot (no
/// record: not saved by guestmem-vmm; or a malformed one).
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

    /// Writes the next snapshot of `machine`, its record inside. Errors:
    /// those of guestmem::snapshot::save, Errc::io_error (LATEST).
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
