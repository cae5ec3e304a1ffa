// SPDX-License-Identifier: BSD-2-Clause
// Opening a snapshot file: its header, layout and vCPU sections, checked.
#pragma once

#include <sys/types.h>
#include <unistd.h>

#include <filesystem>
#include <memory>
#include <utility>

#include "format.hpp"
#include "../core/unique_fd.hpp"
#include "guestmem/error.hpp"
#include "guestmem/snapshot.hpp"

namespace guestmem::snapshot {

/// One snapshot file, open, with everything but its data section read and
/// checked: the header's checksum, the sections' bounds against the file's
/// size, and the layout's consistency (ranges, mappings covering their
/// reservations, frame and page references), so that a restore from it
/// cannot fail halfway on anything the file says.
struct LoadedFile {
    std::filesystem::path path;
    UniqueFd fd;  ///< open after load(); a chain closes it (ChainFiles reopens on demand)
    std::uint64_t file_bytes = 0;
    dev_t device = 0;  ///< identity of the file loaded, to recognise it when reopened
    ino_t inode = 0;
    format::Header header;
    format::Layout layout;
    std::vector<format::VcpuEntry> vcpus;
    std::vector<std::byte> application;
};

/// Errors: Errc::io_error (cannot open or read), Errc::bad_snapshot (the
/// message names the file and what is wrong with it).
/// With `sections` false only the header is decoded (the checksum over all
/// three sections is still checked): what a diff needs of its parent.
Result<std::shared_ptr<LoadedFile>> load(const std::filesystem::path& path, bool sections = true);

/// The SnapshotInfo of a loaded file.
SnapshotInfo info_of(const LoadedFile& file);

/// Reads exactly `bytes` at `offset` of `fd`, which is `file` open.
/// Errors: Errc::io_error, Errc::bad_snapshot (end of file).
Result<void> read_exact(const LoadedFile& file, int fd, std::byte* into, std::size_t bytes, std::uint64_t offset);

/// Opens `file` again, checked to be the file load() read (the same device
/// and inode: not another renamed over it since). Errors: Errc::io_error,
/// Errc::bad_snapshot (replaced since it was loaded).
Result<UniqueFd> reopen(const LoadedFile& file);

}  // namespace guestmem::snapshot
