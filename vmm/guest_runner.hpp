// SPDX-License-Identifier: BSD-2-Clause
// Loads a guest into a machine and runs it on the machine's backend.
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <mutex>
#include <optional>
#include <vector>

#include "guestmem/run_result.hpp"
#include "guestmem/vcpu.hpp"
#include "guestmem/guest_image.hpp"
#include "machine.hpp"

namespace vmm {

/// Where the runner puts things in guest RAM (below the image). The x86-64
/// boot tables are unused on AArch64 (its guests start with the MMU off).
inline constexpr guestmem::GuestAddr kBootTablesAddr = 0x1000;
inline constexpr guestmem::GuestAddr kStackTop = 0x80000;
inline constexpr guestmem::GuestAddr kImageAddr = 0x100000;

/// Carries a stop from another thread (the VMM's signal thread) to the vCPUs
/// running guests: every run attached now or later stops soon, and the run
/// says which signal stopped it.
/// Thread safety: any thread.
class StopSignal {
public:
    /// Stops every attached run and every run attached later. The first
    /// signal number is the one remembered.
    void raise(int signal_number);
    /// The signal that stopped the runs, or 0.
    int signal_number() const { return signal_.load(); }

    /// For run_guest: `vcpu` is running a guest until detach(); if the stop
    /// was raised already, its next run stops at once.
    void attach(guestmem::Vcpu& vcpu);
    void detach(guestmem::Vcpu& vcpu);

private:
    std::mutex mutex_;
    std::vector<guestmem::Vcpu*> vcpus_;  // under mutex_
    std::atomic<int> signal_{0};
};

struct GuestRun {
    guestmem::RunResult result;
    /// What the guest wrote to the exit register (RunResult::exit_status when
    /// the write ended the run).
    std::optional<std::uint32_t> exit_status;
    double seconds = 0;
    /// The signal whose StopSignal ended the run, or 0.
    int stopped_by_signal = 0;
};

/// Copies the image into guest RAM and boots the machine's first vCPU
/// (creating it) at the image's entry through Vcpu::boot: x86-64 long mode
/// on boot tables at kBootTablesAddr, or AArch64 EL1 with the MMU off; the
/// stack at kStackTop, the VM's index in the first argument register. The
/// machine's RAM must be as Machine::build leaves it, all zero: the part of a
/// segment beyond its file bytes is not written.
guestmem::Result<guestmem::Vcpu*> load_guest(Machine& machine, const guestmem::GuestImage& image);

/// Pauses of a run at a fixed interval (for snapshots).
struct PauseSchedule {
    std::chrono::nanoseconds every{0};  ///< > 0: the guest runs this long between two pauses
    /// Called on the running thread with the vCPU stopped; an error ends the run.
    std::function<guestmem::Result<void>()> at_pause;
    /// Called once before the first instruction (the state the run starts from).
    bool at_start = true;
};

struct RunOptions {
    /// Stop a guest that runs longer; 0: never.
    std::chrono::nanoseconds timeout{0};
    /// Print a status line to stderr every second once the run has taken
    /// more than two seconds.
    bool progress = false;
    /// Stop the vCPU every pauses->every, call pauses->at_pause and run on:
    /// the guest does not notice (exit counts add up over the pieces).
    const PauseSchedule* pauses = nullptr;
    /// Stop the run when this is raised (a pause in progress completes first).
    StopSignal* stop = nullptr;
};

/// Runs the vCPU until the guest halts, fails, times out or is stopped, as
/// `options` say.
guestmem::Result<GuestRun> run_guest(Machine& machine, guestmem::Vcpu& vcpu, const RunOptions& options);

}  // namespace vmm
