// SPDX-License-Identifier: BSD-2-Clause
// A chain of snapshot files, newest first, and reading frames back from it.
#pragma once

#include <deque>
#include <filesystem>
#include <memory>
#include <vector>

#include "guestmem/error.hpp"
#include "loader.hpp"

namespace guestmem::snapshot {

/// The files of a chain, the newest first, ending at a full snapshot.
using Chain = std::vector<std::shared_ptr<LoadedFile>>;

/// Loads the file at `path` and its parents, checked: every parent present,
/// of the identity and architecture its child names, and every frame a diff
/// takes from its parent present there with the same size. Errors: those of
/// load(), Errc::bad_snapshot (a missing or mismatched parent, a loop).
Result<Chain> load_chain(const std::filesystem::path& path);

/// Descriptors a chain keeps open: a chain no longer than this is read from
/// the descriptors its files were checked through (so it is read even if
/// its files are removed meanwhile); a longer one closes the least recently
/// read file to open another, so that a chain of any length is read within
/// the default limit of 1,024 open files.
inline constexpr std::size_t kOpenChainFiles = 64;

/// Reads the frames of the newest file's frame table from a chain: each page
/// from the newest file that has it, checked against its checksum.
///
/// Thread safety: one thread at a time (callers serialise).
class ChainReader {
public:
    /// Takes the chain and the descriptors load_chain() left open.
    explicit ChainReader(Chain chain);

    /// The newest file.
    const LoadedFile& top() const { return *chain_.front(); }
    /// Every file, newest first.
    const Chain& chain() const { return chain_; }

    /// Fills `host` (the frame's size, zeroed) with frame `index` of the
    /// newest file's table. Pages no file stores stay zero. Errors:
    /// Errc::io_error, Errc::bad_snapshot (a page's checksum does not match,
    /// a file replaced since it was loaded): the frame is then partly filled.
    Result<void> fill(std::uint64_t index, std::byte* host);

private:
    /// The open descriptor of the file at `level`; see kOpenChainFiles.
    Result<int> fd(std::size_t level);

    Chain chain_;
    std::vector<UniqueFd> open_;      // by level
    std::deque<std::size_t> recent_;  // levels open, least recently read first
};

}  // namespace guestmem::snapshot
