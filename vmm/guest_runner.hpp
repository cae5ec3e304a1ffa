// SPDX-License-Identifier: BSD-2-Clause
// Loads a guest into a machine and runs it on the machine's backend.
#pragma once

#include <functional>
#include <optional>

#include "guestmem/run_result.hpp"
#include "guestmem/vcpu.hpp"
#include "image_loader.hpp"
#include "machine.hpp"

namespace vmm {

/// Where the runner puts things in guest RAM (below the image). The x86-64
/// boot tables are unused on AArch64 (its guests start with the MMU off).
inline constexpr guestmem::GuestAddr kBootTablesAddr = 0x1000;
inline constexpr guestmem::GuestAddr kStackTop = 0x80000;
inline constexpr guestmem::GuestAddr kImageAddr = 0x100000;

struct GuestRun {
    guestmem::RunResult result;
    /// What the guest wrote to the exit register (RunResult::exit_status when
    /// the write ended the run).
    std::optional<std::uint32_t> exit_status;
    double seconds = 0;
};

/// Copies the image into guest RAM and boots the machine's first vCPU
/// (creating it) at the image's entry through Vcpu::boot: x86-64 long mode
/// on boot tables at kBootTablesAddr, or AArch64 EL1 with the MMU off; the
/// stack at kStackTop, the VM's index in the first argument register. The
/// machine's RAM must be as Machine::build leaves it, all zero: the part of a
/// segment beyond its file bytes is not written.
guestmem::Result<guestmem::Vcpu*> load_guest(Machine& machine, const GuestImage& image);

/// Pauses of a run at a fixed interval (for snapshots).
struct PauseSchedule {
    double every_seconds = 0;  ///< > 0
    /// Called on the running thread with the vCPU stopped; an error ends the run.
    std::function<guestmem::Result<void>()> at_pause;
    /// Called once before the first instruction (the state the run starts from).
    bool at_start = true;
};

/// Runs the vCPU until the guest halts, fails, or `timeout_seconds` pass (then
/// the run is stopped). With `progress`, prints a status line to stderr every
/// second once the run has taken more than two seconds. With `pauses`, stops
/// the vCPU every pauses->every_seconds, calls pauses->at_pause and runs on:
/// the guest does not notice (exit counts add up over the pieces).
guestmem::Result<GuestRun> run_guest(Machine& machine, guestmem::Vcpu& vcpu, double timeout_seconds, bool progress,
                                     const PauseSchedule* pauses = nullptr);

}  // namespace vmm
