// SPDX-License-Identifier: BSD-2-Clause
// Opening a file the library reads (a snapshot, a parent, a guest image).
#pragma once

#include <filesystem>
#include <string_view>

#include "guestmem/error.hpp"
#include "unique_fd.hpp"

namespace guestmem {

/// Opens `path` for reading, refusing anything but a regular file before
/// it can block: a plain open(O_RDONLY) of a FIFO waits for a writer for
/// ever, and a device such as /dev/zero never ends. The file is opened
/// with O_NONBLOCK (which a FIFO or a tty honours at once), checked with
/// fstat, and then set back to blocking reads. `what` names the file in
/// messages ("snapshot", "guest image").
/// Errors: `cannot_open` (cannot open or stat: the message has errno's
/// text; callers keep the code their API documents), Errc::invalid_argument
/// (not a regular file: a FIFO, a directory, a device or a socket).
/// Thread safety: any thread.
Result<UniqueFd> open_regular_file(const std::filesystem::path& path, std::string_view what,
                                   Errc cannot_open = Errc::io_error);

}  // namespace guestmem
