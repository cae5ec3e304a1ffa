// SPDX-License-Identifier: BSD-2-Clause
// Runs guestmem-vmm as a child process, as a user would, for the VMM's tests.
#pragma once

#include <sys/wait.h>

#include <cstdio>
#include <string>

#include "guestmem/backend_registry.hpp"

namespace vmm_test {

struct Outcome {
    int status = -1;
    std::string output;  // stdout and stderr together
};

inline Outcome vmm(const std::string& args) {
    const std::string command = std::string(GUESTMEM_VMM_PATH) + " " + args + " 2>&1";
    Outcome outcome;
    FILE* pipe = popen(command.c_str(), "r");
    if (!pipe) return outcome;
    char buffer[4096];
    for (std::size_t n; (n = fread(buffer, 1, sizeof buffer, pipe)) > 0;) outcome.output.append(buffer, n);
    const int raw = pclose(pipe);
    outcome.status = WIFEXITED(raw) ? WEXITSTATUS(raw) : -1;
    return outcome;
}

/// Why no backend can run host-architecture guests here, as the VMM's
/// --backend auto would find, or empty when one can.
inline std::string no_guest_backend() {
    auto choice = guestmem::choose_backend(guestmem::BackendKind::automatic, guestmem::host_arch());
    return choice ? std::string() : choice.error().message;
}

}  // namespace vmm_test

#define REQUIRE_GUEST_BACKEND()                                             \
    if (const std::string why = vmm_test::no_guest_backend(); !why.empty()) \
    GTEST_SKIP() << "no backend runs guests here: " << why
