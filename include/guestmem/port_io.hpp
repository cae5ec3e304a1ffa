// SPDX-License-Identifier: BSD-2-Clause
/// @file
/// x86 port I/O (IN and OUT instructions) as the VMM sees it.
#pragma once

#include <cstdint>
#include <functional>

namespace guestmem {

/// One element of an IN or OUT instruction (a REP INS/OUTS gives one per element).
struct PortAccess {
    std::uint16_t port = 0;  ///< the I/O port
    std::uint8_t size = 0;   ///< 1, 2 or 4
    bool is_write = false;   ///< OUT
    std::uint32_t data = 0;  ///< OUT: the value written; IN: set it to the value read
};

/// What a port I/O handler decided.
enum class PortResult {
    handled,  ///< done (for IN, PortAccess::data is the value read)
    ignore,   ///< OUT dropped, IN yields 0
    error,    ///< stop the run with StopReason::port_io_error
};

/// Called on the vCPU's thread for each port access of that vCPU.
using PortIoHandler = std::function<PortResult(PortAccess&)>;

}  // namespace guestmem
