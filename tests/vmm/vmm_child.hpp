// SPDX-License-Identifier: BSD-2-Clause
// Runs guestmem-vmm as a child process without a shell, for the tests that
// need its pid (to signal it), a time limit (an input that could hang it),
// arguments a shell would mangle (an empty one) or its peak memory.
#pragma once

#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <spawn.h>
#include <sys/resource.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

extern char** environ;

namespace vmm_test {

/// How a child ended.
struct Ended {
    int exit_status = -1;  ///< its exit status, or -1 when a signal killed it
    int signal = 0;        ///< the signal that killed it, or 0
    bool hung = false;     ///< still running at the time limit (then killed)
    std::string output;    ///< stdout and stderr together
    double seconds = 0;    ///< from start to end
    long max_rss_kib = 0;  ///< its peak resident memory
};

/// guestmem-vmm running with its output going to a file.
class Child {
public:
    /// Starts guestmem-vmm with `args`; its output goes to `output_file`.
    Child(const std::vector<std::string>& args, std::string output_file) : output_file_(std::move(output_file)) {
        std::vector<std::string> argv_strings{GUESTMEM_VMM_PATH};
        argv_strings.insert(argv_strings.end(), args.begin(), args.end());
        std::vector<char*> argv;
        for (auto& a : argv_strings) argv.push_back(a.data());
        argv.push_back(nullptr);
        posix_spawn_file_actions_t actions;
        posix_spawn_file_actions_init(&actions);
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
        posix_spawn_file_actions_addopen(&actions, 1, output_file_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
        posix_spawn_file_actions_adddup2(&actions, 1, 2);
        // The child gets SIGINT and SIGTERM as a shell in a terminal gives
        // them, whatever the test runner ignores or blocks.
        posix_spawnattr_t attributes;
        posix_spawnattr_init(&attributes);
        sigset_t signals;
        sigemptyset(&signals);
        posix_spawnattr_setsigmask(&attributes, &signals);
        sigaddset(&signals, SIGINT);
        sigaddset(&signals, SIGTERM);
        posix_spawnattr_setsigdefault(&attributes, &signals);
        posix_spawnattr_setflags(&attributes, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
        start_ = std::chrono::steady_clock::now();
        if (posix_spawn(&pid_, argv[0], &actions, &attributes, argv.data(), environ) != 0) pid_ = -1;
        posix_spawnattr_destroy(&attributes);
        posix_spawn_file_actions_destroy(&actions);
    }
    ~Child() {
        if (pid_ > 0) {
            ::kill(pid_, SIGKILL);
            ::waitpid(pid_, nullptr, 0);
        }
    }
    Child(const Child&) = delete;
    Child& operator=(const Child&) = delete;

    bool started() const { return pid_ > 0; }
    void signal(int signal_number) const {
        if (pid_ > 0) ::kill(pid_, signal_number);
    }

    /// Waits for the child to end, at most `limit`: then it is killed and
    /// reported as hung.
    Ended wait(std::chrono::duration<double> limit) {
        Ended ended;
        if (pid_ <= 0) return ended;
        const auto deadline = start_ + std::chrono::duration_cast<std::chrono::steady_clock::duration>(limit);
        int status = 0;
        struct rusage usage {};
        for (;;) {
            const pid_t done = ::wait4(pid_, &status, WNOHANG, &usage);
            if (done == pid_) break;
            if (std::chrono::steady_clock::now() >= deadline) {
                ended.hung = true;
                ::kill(pid_, SIGKILL);
                ::wait4(pid_, &status, 0, &usage);
                break;
            }
            std::this_thread::sleep_for(std::chrono::milliseconds(5));
        }
        pid_ = -1;
        ended.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
        ended.max_rss_kib = usage.ru_maxrss;
        if (WIFEXITED(status)) ended.exit_status = WEXITSTATUS(status);
        if (WIFSIGNALED(status)) ended.signal = WTERMSIG(status);
        std::ifstream in(output_file_);
        std::stringstream text;
        text << in.rdbuf();
        ended.output = text.str();
        return ended;
    }

private:
    std::string output_file_;
    pid_t pid_ = -1;
    std::chrono::steady_clock::time_point start_;
};

/// A file for a child's output, unique to this test process and call.
inline std::string output_file() {
    static std::atomic<unsigned> count{0};
    return ::testing::TempDir() + "guestmem-vmm-child-" + std::to_string(::getpid()) + "-" + std::to_string(count++) +
           ".out";
}

/// Runs guestmem-vmm with `args` to its end, at most `limit`.
inline Ended run_child(const std::vector<std::string>& args,
                       std::chrono::duration<double> limit = std::chrono::seconds(60)) {
    const std::string output = output_file();
    Child child(args, output);
    Ended ended = child.wait(limit);
    ::unlink(output.c_str());
    return ended;
}

}  // namespace vmm_test
