// SPDX-License-Identifier: BSD-2-Clause
#include "kick_signal.hpp"

#include <signal.h>

#include <mutex>

namespace guestmem::kvm {

namespace {
void ignore_kick(int) {}  // the interruption of KVM_RUN is all that is wanted
}  // namespace

int kick_signal_number() { return SIGRTMIN + 3; }

void install_kick_handler() {
    static std::once_flag once;
    std::call_once(once, [] {
        struct sigaction action {};
        action.sa_handler = ignore_kick;
        sigemptyset(&action.sa_mask);
        action.sa_flags = SA_RESTART;
        sigaction(kick_signal_number(), &action, nullptr);
    });
}

}  // namespace guestmem::kvm
