// SPDX-License-Identifier: BSD-2-Clause
// The emulator backend: the current guest memory map, shared by the vCPUs' engines.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <vector>

#include "guestmem/emu.hpp"
#include "ram_window.hpp"
#include "x86_io_apic.hpp"

namespace guestmem::emu {

class EmuVcpu;

/// The guest RAM every engine should map, as of one generation.
struct MemorySnapshot {
    std::uint64_t generation = 0;
    std::vector<std::shared_ptr<const RamWindow>> windows;  // ascending by gpa
};

/// Keeps the memory map and its generation; each vCPU applies it to its own
/// engine on its own thread (emulator maps must not change under a running
/// engine from another thread). install() only publishes; uninstall()
/// publishes and then waits until every vCPU in guest code has applied it.
///
/// Thread safety: install/uninstall/create_vcpu are serialised by the Vm;
/// snapshot(), generation() and the vCPU notifications are for any thread.
class EmuBackend final : public Backend {
public:
    /// `options` with its defaults already filled in.
    EmuBackend(Arch arch, Options options);
    ~EmuBackend() override;

    BackendKind kind() const override { return BackendKind::emu; }
    Arch arch() const override { return arch_; }
    Result<void> install(std::span<const MappedRun> runs) override;
    void uninstall(std::span<const MappedRun> runs) noexcept override;
    Result<std::unique_ptr<VcpuBackend>> create_vcpu(Vcpu& vcpu) override;

    // Interrupts (x86-64 only): the VM's InterruptController reaches the
    // guest through a local APIC per vCPU (EmuVcpu) and this I/O APIC. Their
    // pages are reservations this backend makes when the controller is
    // created (attach_interrupt_controller): guest accesses to them fault
    // into the core's dispatch like any device's, and their handlers serve
    // them from the models. So the pages cannot collide with a VMM's
    // reservation: creating the controller fails if one is there, and a
    // later reservation there fails as any overlapping one does.

    /// OK for x86-64; AArch64 guests get no interrupts yet.
    Result<void> supports_interrupts() const override;
    /// Reserves the local APIC page (0xfee00000) and the I/O APIC page (0xfec00000).
    Result<void> attach_interrupt_controller(Vm& vm) override;
    /// The VM's I/O APIC (x86-64).
    IoApic& io_apic() { return io_apic_; }

    // Dirty logging. The emulator stores guest writes to mapped RAM straight
    // into host memory; each vCPU marks them itself (EmuVcpu, "Dirty
    // logging"), from a Unicorn store hook, directly into the frames'
    // DirtyLog: there is no backend log to harvest.

    /// Publishes "log" and waits (as uninstall does) until every vCPU in
    /// guest code has applied it, so that every store that completes after
    /// the return is marked. A vCPU in VMM code or idle applies it before it
    /// runs guest code again. Never fails.
    Result<void> start_dirty_log() override;
    /// Publishes "do not log"; vCPUs stop marking (and x86-64 drops its
    /// store hook) at their next block or run. Does not wait: a late mark
    /// only over-reports a page.
    void stop_dirty_log() noexcept override;
    /// Nothing to do: vCPUs mark each store soon after it completes (at
    /// the latest before the next translated block, VMM callback or the end
    /// of the run), as any other writer marks after its store.
    Result<void> harvest_dirty_log() override { return {}; }
    /// True between start_dirty_log() and stop_dirty_log(). Any thread; a
    /// vCPU reads it after snapshot(), whose generation orders it.
    bool dirty_logging() const { return dirty_logging_.load(std::memory_order_acquire); }

    /// The current map.
    MemorySnapshot snapshot() const;
    /// Bumped by every change of the map.
    std::uint64_t generation() const { return generation_.load(std::memory_order_seq_cst); }
    const Options& options() const { return options_; }

    /// vCPUs register while they exist, so that uninstall can wait for them.
    void attach(EmuVcpu& vcpu);
    void detach(EmuVcpu& vcpu);
    /// A vCPU left guest code or applied a generation: wakes a waiting uninstall.
    /// Inline: every emulated access calls it, and there is rarely a waiter.
    void notify_progress() {
        if (waiters_.load(std::memory_order_seq_cst) != 0) wake_waiters();
    }

private:
    void wait_for_vcpus(std::uint64_t generation);
    void wake_waiters();

    const Arch arch_;
    const Options options_;
    mutable std::mutex mutex_;  // after AddressSpace::change_mutex_ and Vm::vcpus_mutex_; a leaf otherwise
    std::condition_variable progress_;
    std::map<GuestAddr, std::shared_ptr<const RamWindow>> windows_;  // by gpa
    std::size_t ram_regions_ = 0;
    std::atomic<std::uint64_t> generation_{0};
    std::atomic<int> waiters_{0};
    std::atomic<bool> dirty_logging_{false};  // changed under mutex_, with a generation bump
    std::vector<EmuVcpu*> vcpus_;
    IoApic io_apic_;
};

}  // namespace guestmem::emu
