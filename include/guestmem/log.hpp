// SPDX-License-Identifier: BSD-2-Clause
/// @file
/// Where guestmem's log lines go.
#pragma once

#include <guestmem/export.h>

#include <functional>
#include <string_view>

namespace guestmem {

/// How important a log line is (same values as guestmem_log_level_t).
enum class LogLevel {
    error = 0,    ///< a call failed or a guest access ended in an error
    warning = 1,  ///< something suspicious that did not fail
    info = 2,     ///< notable events
    debug = 3,    ///< details
};

/// Receives every log line. Called on the thread that logs; must be thread safe.
using LogHandler = std::function<void(LogLevel, std::string_view message)>;

/// Replaces the process-wide log handler (the default writes errors and warnings
/// to stderr as "guestmem: error: <function>: <reason>"). An empty handler
/// restores the default. Thread safe; the one piece of process-wide state in
/// the C++ core, because a log has one destination per process.
GUESTMEM_API void set_log_handler(LogHandler handler);

/// Sends one line to the current handler.
GUESTMEM_API void log(LogLevel level, std::string_view message);

}  // namespace guestmem
