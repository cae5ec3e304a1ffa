// SPDX-License-Identifier: BSD-2-Clause
// Reading a file the VMM was given on its command line (a --script).
#pragma once

#include <cstdint>
#include <string>

#include "guestmem/error.hpp"

namespace vmm {

/// The whole content of the regular file `path`, at most `max_bytes`. The
/// file is checked for what it is on the opened descriptor, before anything
/// is read: an open of a FIFO for reading waits for a writer for ever, and a
/// device such as /dev/zero never ends. `what` names the file in messages
/// ("--script").
/// Errors: Errc::invalid_argument (cannot be opened or read, not a regular
/// file, larger than `max_bytes`), with `what`, the path and the reason.
guestmem::Result<std::string> read_regular_file(const std::string& path, const std::string& what,
                                                std::uint64_t max_bytes);

}  // namespace vmm
