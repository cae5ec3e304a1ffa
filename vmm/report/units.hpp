// SPDX-License-Identifier: BSD-2-Clause
// Human-readable sizes and addresses for reports.
#pragma once

#include <cstdint>
#include <string>

namespace vmm {

/// "4 KiB", "2 MiB", "12 B", "1.5 MiB"
std::string human_size(std::uint64_t bytes);
/// "0x00000000fe001000" shortened to 8 digits when it fits: "0xfe001000"
std::string address(std::uint64_t value);

}  // namespace vmm
