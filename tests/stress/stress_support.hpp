// SPDX-License-Identifier: BSD-2-Clause
// Shared pieces of the reliability suites: bounded durations, figures and
// process resource readings.
#pragma once

#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <dirent.h>
#include <fstream>
#include <initializer_list>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include <unistd.h>

namespace guestmem::stress {

/// How long each stress test runs: GUESTMEM_STRESS_SECONDS (default 2.5).
inline std::chrono::milliseconds stress_duration() {
    double seconds = 2.5;
    if (const char* env = std::getenv("GUESTMEM_STRESS_SECONDS")) {
        const double parsed = std::atof(env);
        if (parsed > 0) seconds = parsed;
    }
    return std::chrono::milliseconds(static_cast<long long>(seconds * 1000));
}

/// Prints figures on one line and records each as a GoogleTest property
/// (they end up in --gtest_output=xml reports).
inline void report(const std::string& what, std::initializer_list<std::pair<const char*, double>> figures) {
    std::string line = "[figures] " + what + ":";
    for (const auto& [name, value] : figures) {
        char buf[96];
        std::snprintf(buf, sizeof buf, " %s=%.6g", name, value);
        line += buf;
        ::testing::Test::RecordProperty(name, std::to_string(value));
    }
    std::printf("%s\n", line.c_str());
    std::fflush(stdout);
}

/// The process's resources, from /proc/self.
struct ProcessResources {
    std::size_t fds = 0;       ///< open file descriptors
    std::size_t mappings = 0;  ///< lines of /proc/self/maps
    std::uint64_t rss = 0;     ///< resident bytes (statm)

    static ProcessResources now() {
        ProcessResources r;
        if (DIR* dir = opendir("/proc/self/fd")) {
            while (dirent* e = readdir(dir)) {
                if (e->d_name[0] != '.') ++r.fds;
            }
            closedir(dir);
            --r.fds;  // the directory stream's own descriptor
        }
        std::ifstream maps("/proc/self/maps");
        for (std::string line; std::getline(maps, line);) ++r.mappings;
        std::ifstream statm("/proc/self/statm");
        std::uint64_t size = 0, resident = 0;
        statm >> size >> resident;
        r.rss = resident * static_cast<std::uint64_t>(sysconf(_SC_PAGESIZE));
        return r;
    }
};

/// First few failure messages from any thread, and how many there were.
class Violations {
public:
    void add(std::string message) {
        std::lock_guard lock(mutex_);
        if (messages_.size() < 12) messages_.push_back(std::move(message));
        ++count_;
    }
    std::uint64_t count() const {
        std::lock_guard lock(mutex_);
        return count_;
    }
    std::string text() const {
        std::lock_guard lock(mutex_);
        std::string out;
        for (const auto& m : messages_) out += "  " + m + "\n";
        return out;
    }

private:
    mutable std::mutex mutex_;
    std::vector<std::string> messages_;
    std::uint64_t count_ = 0;
};

}  // namespace guestmem::stress
