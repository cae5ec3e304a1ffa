// SPDX-License-Identifier: BSD-2-Clause
#include "guestmem/run_result.hpp"

namespace guestmem {

std::string_view to_string(StopReason reason) {
    switch (reason) {
    case StopReason::halted: return "halted";
    case StopReason::exited: return "exited";
    case StopReason::stopped: return "stopped";
    case StopReason::fault_error: return "fault_error";
    case StopReason::port_io_error: return "port_io_error";
    case StopReason::exception: return "exception";
    case StopReason::internal_error: return "internal_error";
    case StopReason::entry_failed: return "entry_failed";
    case StopReason::unexpected_exit: return "unexpected_exit";
    }
    return "unknown";
}

}  // namespace guestmem
