// SPDX-License-Identifier: BSD-2-Clause
// Formatting for log and error messages.
#pragma once

#include <cstdint>
#include <string>

#include "guestmem/types.hpp"

namespace guestmem {

/// "0x1f000"
std::string hex(std::uint64_t value);
/// "[0x1000, 0x3000)"
std::string describe(const Range& range);
/// strerror(err), but safe to call from several threads at once (vCPU
/// threads report failed system calls while others do).
std::string errno_message(int err);

}  // namespace guestmem
