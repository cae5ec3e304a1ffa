// SPDX-License-Identifier: BSD-2-Clause
#include "guestmem/log.hpp"

#include <cstdio>
#include <memory>
#include <mutex>
#include <string>

namespace guestmem {

namespace {

const char* level_name(LogLevel level) {
    switch (level) {
    case LogLevel::error: return "error";
    case LogLevel::warning: return "warning";
    case LogLevel::info: return "info";
    case LogLevel::debug: return "debug";
    }
    return "log";
}

void default_handler(LogLevel level, std::string_view message) {
    if (level > LogLevel::warning) return;
    std::string line = "guestmem: ";
    line += level_name(level);
    line += ": ";
    line += message;
    line += '\n';
    std::fputs(line.c_str(), stderr);
}

struct LogSink {
    std::mutex mutex;
    std::shared_ptr<const LogHandler> handler;
};

LogSink& sink() {
    static LogSink s;
    return s;
}

}  // namespace

void set_log_handler(LogHandler handler) {
    auto next = handler ? std::make_shared<const LogHandler>(std::move(handler)) : nullptr;
    std::lock_guard lock(sink().mutex);
    sink().handler = std::move(next);
}

void log(LogLevel level, std::string_view message) {
    std::shared_ptr<const LogHandler> handler;
    {
        std::lock_guard lock(sink().mutex);
        handler = sink().handler;
    }
    if (handler) {
        (*handler)(level, message);
    } else {
        default_handler(level, message);
    }
}

}  // namespace guestmem
