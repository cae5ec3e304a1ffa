// Loads a guest into a machine and runs it on KVM.
#pragma once

#include <optional>

#include "guestmem/kvm.hpp"
#include "image_loader.hpp"
#include "machine.hpp"

namespace vmm {

/// Where the runner puts things in guest RAM (below the image).
inline constexpr guestmem::GuestAddr kBootTablesAddr = 0x1000;
inline constexpr guestmem::GuestAddr kStackTop = 0x80000;
inline constexpr guestmem::GuestAddr kImageAddr = 0x100000;

struct GuestRun {
    guestmem::kvm::RunResult result;
    std::optional<std::uint32_t> exit_status;  ///< what the guest wrote to the exit register
    double seconds = 0;
};

/// Copies the image into guest RAM, writes long-mode boot tables, and sets
/// the machine's first vCPU up to enter it (creating the vCPU).
guestmem::Result<guestmem::Vcpu*> load_guest(Machine& machine, const GuestImage& image);

/// Runs the vCPU until the guest halts, fails, or `timeout_seconds` pass (then
/// the run is stopped). With `progress`, prints a status line to stderr every
/// second once the run has taken more than two seconds.
guestmem::Result<GuestRun> run_guest(Machine& machine, guestmem::Vcpu& vcpu, double timeout_seconds, bool progress);

}  // namespace vmm
