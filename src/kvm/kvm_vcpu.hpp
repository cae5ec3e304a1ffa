// SPDX-License-Identifier: BSD-2-Clause
// A KVM vCPU: its fd, its kvm_run area and what the run loop keeps per vCPU.
#pragma once

#include <linux/kvm.h>
#include <pthread.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>

#include "guestmem/backend.hpp"
#include "guestmem/error.hpp"
#include "guestmem/kvm.hpp"
#include "guestmem/port_io.hpp"
#include "kvm_vm_fd.hpp"
#include "mapped_region.hpp"
#include "../core/unique_fd.hpp"

namespace guestmem::kvm {

/// The KVM side of a guestmem Vcpu (VcpuBackend), created by KvmBackend.
///
/// Thread safety: one thread at a time drives the vCPU (run, registers, setup);
/// request_stop() may be called from any thread at any time.
class KvmVcpu final : public VcpuBackend {
public:
    static Result<std::unique_ptr<KvmVcpu>> create(std::shared_ptr<const KvmVmFd> vm, Vcpu& vcpu);
    ~KvmVcpu() override;
    KvmVcpu(const KvmVcpu&) = delete;
    KvmVcpu& operator=(const KvmVcpu&) = delete;

    /// RIP of the current exit, read with KVM_GET_REGS once per exit and only
    /// when a fault handler or an error report asks for it.
    GuestAddr instruction_pointer() override;

    // VcpuBackend: the run loop (run_loop.hpp) and the x86 register state.
    Result<RunResult> run() override;
    Result<Registers> registers() override;
    Result<void> set_registers(const Registers& registers) override;
    Result<SystemState> system_state() override;
    Result<void> set_system_state(const SystemState& state) override;
    Result<void> set_port_io_handler(PortIoHandler handler) override;

    Vcpu& core() const { return vcpu_; }
    kvm_run& run_area() const { return *static_cast<kvm_run*>(run_area_.get()); }
    /// The VM's coalesced MMIO ring as this vCPU maps it, or nullptr without one.
    kvm_coalesced_mmio_ring* coalesced_ring() const { return coalesced_ring_; }
    const KvmVmFd& vm_fd() const { return *vm_; }

    Result<kvm_regs> get_regs() const;
    Result<void> set_regs(const kvm_regs& regs);
    Result<kvm_sregs> get_sregs() const;
    Result<void> set_sregs(const kvm_sregs& sregs);

    /// One KVM_RUN. EINTR (a signal or immediate_exit) is not an error: the
    /// exit reason is then KVM_EXIT_INTR.
    Result<void> enter();
    /// The last exit needs KVM_RUN to complete it (MMIO or port I/O data).
    void set_completion_pending() { completion_pending_ = true; }
    /// Completes a pending MMIO/port exit without running guest code, so that
    /// registers are consistent (KVM's documented use of immediate_exit).
    void settle() noexcept;

    /// Marks the vCPU as running on this thread; false if it already runs.
    bool begin_run();
    void end_run();
    /// Sets immediate_exit and, if a KVM_RUN is under way, kicks its thread
    /// with kick_signal(). Any thread, any time.
    void request_stop() noexcept override;
    /// True (once) if a stop was requested; re-arms immediate_exit correctly.
    bool take_stop_request() noexcept;

    PortIoHandler& port_handler() { return port_handler_; }

    struct Key {  // only create() constructs
        explicit Key() = default;
    };
    KvmVcpu(Key, std::shared_ptr<const KvmVmFd> vm, Vcpu& vcpu, UniqueFd fd, MappedRegion run_area);

private:
    void set_immediate_exit(bool on) noexcept;

    std::shared_ptr<const KvmVmFd> vm_;  // the VM outlives its vCPU fds
    Vcpu& vcpu_;
    UniqueFd fd_;
    MappedRegion run_area_;
    kvm_coalesced_mmio_ring* coalesced_ring_ = nullptr;
    std::optional<GuestAddr> cached_ip_;
    bool completion_pending_ = false;
    PortIoHandler port_handler_;

    std::atomic<bool> stop_requested_{false};
    std::mutex running_mutex_;  // guards running_/thread_ against request_stop's kick
    bool running_ = false;
    pthread_t thread_{};
};

}  // namespace guestmem::kvm
