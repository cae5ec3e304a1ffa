// Where guestmem's log lines go.
#pragma once

#include <functional>
#include <string_view>

namespace guestmem {

enum class LogLevel { error = 0, warning = 1, info = 2, debug = 3 };

/// Receives every log line. Called on the thread that logs; must be thread safe.
using LogHandler = std::function<void(LogLevel, std::string_view message)>;

/// Replaces the process-wide log handler (the default writes errors and warnings
/// to stderr as "guestmem: error: <function>: <reason>"). An empty handler
/// restores the default. Thread safe; the one piece of process-wide state in
/// the C++ core, because a log has one destination per process.
void set_log_handler(LogHandler handler);

/// Sends one line to the current handler.
void log(LogLevel level, std::string_view message);

}  // namespace guestmem
