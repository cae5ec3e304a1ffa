// SPDX-License-Identifier: BSD-2-Clause
// A demo machine: a VM whose address space is RAM, a ROM, a UART, an exit
// register and optionally a doorbell and a window shared with a peer VM.
#pragma once

#include <filesystem>
#include <optional>

#include "guestmem/snapshot.hpp"

#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "devices/doorbell.hpp"
#include "devices/exit_register.hpp"
#include "devices/uart.hpp"
#include "fault_stats.hpp"
#include "guestmem/vm.hpp"
#include "platform_layout.hpp"

namespace vmm {

struct MachineOptions {
    /// A backend that runs guests (kvm, emu) or the sim backend (scripts);
    /// BackendKind::automatic picks as guestmem::choose_backend does.
    guestmem::BackendKind backend = guestmem::BackendKind::automatic;
    /// The architecture of the guest's vCPUs.
    guestmem::Arch arch = guestmem::host_arch();
    std::uint64_t ram_size = layout::kDefaultRamSize;
    /// Reserve RAM in chunks mapped on first touch instead of mapping it up front.
    bool deferred_ram = false;
    /// Give the VM an interrupt controller (Vm::create_default_irq_controller):
    /// its guest programs a local APIC and I/O APIC (the ticks guest). Off
    /// by default: the emu backend's APIC pages are reservations, which
    /// snapshots of this machine do not know.
    bool interrupts = false;
    /// Where the UART's output goes (default: nowhere; it is still recorded).
    Uart::Output uart_output;
    /// For a pair of VMs: this VM's side (0 or 1), the doorbell line and the
    /// frame both VMs map at layout::kSharedBase.
    unsigned vm_index = 0;
    std::shared_ptr<DoorbellLine> doorbell;
    guestmem::Cap shared_frame = guestmem::kNullCap;
};

/// What the memory map calls a reservation.
struct RegionLabel {
    guestmem::ReservationId id;
    std::string name;     ///< "ram", "uart", ...
    std::string kind;     ///< "RAM", "lazy RAM", "ROM", "MMIO", "shared"
    std::string backing;  ///< "4 KiB frames", "emulated", ...
    FaultCounters* counters = nullptr;
};

/// Builds the address space with library calls only and owns what it
/// allocated (frames, capabilities, device state).
///
/// Thread safety: build and destroy on one thread; devices and counters are
/// used from vCPU threads while the guest runs.
class Machine {
public:
    static guestmem::Result<std::unique_ptr<Machine>> build(const MachineOptions& options,
                                                            std::shared_ptr<guestmem::CapabilitySpace> caps);
    /// Rebuilds a machine saved by SnapshotSeries: the VM's layout, memory
    /// and vCPU from the snapshot chain ending at `snapshot`, the devices'
    /// handlers from this class (found by the reservations' addresses) and
    /// their state from `uart`. `options` must match the snapshot's machine
    /// (the record says how it was built). Single VMs only (no doorbell or
    /// shared frame). Errors: those of guestmem::snapshot::restore, and
    /// Errc::bad_snapshot for a reservation this machine has no device for.
    static guestmem::Result<std::unique_ptr<Machine>> restore(const MachineOptions& options,
                                                              std::shared_ptr<guestmem::CapabilitySpace> caps,
                                                              const std::filesystem::path& snapshot,
                                                              const Uart::State& uart,
                                                              guestmem::snapshot::RestoreMode mode);
    Machine(const MachineOptions& options, std::shared_ptr<guestmem::CapabilitySpace> caps);
    ~Machine();
    Machine(const Machine&) = delete;
    Machine& operator=(const Machine&) = delete;

    guestmem::Vm& vm() const { return *vm_; }
    Uart& uart() { return uart_; }
    ExitRegister& exit_register() { return exit_; }
    Doorbell* doorbell() { return doorbell_ ? &*doorbell_ : nullptr; }
    FaultStats& stats() { return stats_; }
    /// Counters of accesses that hit no reservation.
    FaultCounters& unmapped_counters() { return *unmapped_; }
    const std::vector<RegionLabel>& labels() const { return labels_; }
    const RegionLabel* label(guestmem::ReservationId id) const;
    const MachineOptions& options() const { return options_; }

private:
    guestmem::Result<void> create_vm();
    guestmem::Result<void> add_ram();
    guestmem::Result<void> add_rom();
    guestmem::Result<void> add_devices();
    guestmem::Result<void> add_shared_window();
    guestmem::Result<guestmem::ReservationId> reserve(guestmem::GuestAddr base, std::uint64_t size, RegionLabel label,
                                                      guestmem::FaultHandler handler);

    /// A reservation of the layout: what the memory map calls it and its
    /// fault handler (not yet instrumented).
    struct Region {
        RegionLabel label;
        guestmem::FaultHandler handler;
    };
    Region ram_region(std::uint64_t offset) const;
    Region rom_region() const;
    Region uart_region();
    Region exit_region();
    /// The region of the layout at `range` (a restored reservation), or nullopt.
    std::optional<Region> region_at(guestmem::Range range);
    guestmem::Result<guestmem::Cap> new_frame();

    MachineOptions options_;
    std::shared_ptr<guestmem::CapabilitySpace> caps_;
    std::unique_ptr<guestmem::Vm> vm_;
    Uart uart_;
    ExitRegister exit_;
    std::optional<Doorbell> doorbell_;
    FaultStats stats_;
    FaultCounters* unmapped_ = nullptr;
    std::vector<RegionLabel> labels_;
    std::mutex caps_mutex_;  // lazy RAM iterators allocate on vCPU threads
    std::vector<guestmem::Cap> owned_caps_;
};

}  // namespace vmm
