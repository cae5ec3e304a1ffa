// SPDX-License-Identifier: BSD-2-Clause
// The temporary file a snapshot is written to before it is renamed into
// place, and the removal of those that killed or failed saves left behind.
#pragma once

#include <filesystem>

#include "../core/unique_fd.hpp"
#include "guestmem/error.hpp"

namespace guestmem::snapshot {

/// A file beside its target, named `<target>.guestmem-tmp-XXXXXX`, mode
/// 0600 (guest memory is private), held under an exclusive flock() for as
/// long as it is open: the lock is how remove_stale_temp_files() tells a
/// file still being written (by any process) from one whose writer died.
/// Removed on destruction unless committed.
///
/// Thread safety: one thread at a time.
class TempFile {
public:
    TempFile() = default;
    ~TempFile();
    TempFile(const TempFile&) = delete;
    TempFile& operator=(const TempFile&) = delete;

    /// Creates and locks the file. Errors: Errc::io_error.
    Result<void> create(const std::filesystem::path& target);
    /// The open file.
    int fd() const { return fd_.get(); }
    /// fsyncs (if `sync`) and renames the file to `target`. Errors: Errc::io_error.
    Result<void> commit(const std::filesystem::path& target, bool sync);

private:
    UniqueFd fd_;
    std::string name_;
};

/// Removes the temporary files of saves in `folder` that can be proven
/// dead: no process holds the file's flock() (a writer's lock goes with
/// it, however it ended) and the file is older than a few seconds (a save
/// that has created its file but not yet locked it). Each removal is
/// logged. Files of any other name are never touched. Errors are logged and
/// otherwise ignored: a stale file left is harmless.
/// Thread safety: any thread.
void remove_stale_temp_files(const std::filesystem::path& folder);

}  // namespace guestmem::snapshot
