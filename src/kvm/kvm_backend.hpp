// SPDX-License-Identifier: BSD-2-Clause
// The KVM hypervisor backend of a Vm.
#pragma once

#include <memory>
#include <mutex>
#include <span>

#include "guestmem/backend.hpp"
#include "guestmem/kvm.hpp"
#include "kvm_system.hpp"
#include "kvm_vm_fd.hpp"
#include "memslot_table.hpp"

namespace guestmem::kvm {

/// A KVM VM behind the core's Backend interface: mapped runs become memory
/// slots, vCPUs become KvmVcpus.
///
/// Thread safety: install/uninstall/create_vcpu are serialised by the Vm and
/// may run while vCPUs run; slot_usage() is safe from any thread.
class KvmBackend final : public Backend {
public:
    static Result<std::unique_ptr<KvmBackend>> create(const BackendOptions& options);

    BackendKind kind() const override { return BackendKind::kvm; }
    /// KVM on this host runs x86-64 guests only.
    Arch arch() const override { return Arch::x86_64; }
    Result<void> install(std::span<const MappedRun> runs) override;
    void uninstall(std::span<const MappedRun> runs) noexcept override;
    Result<std::unique_ptr<VcpuBackend>> create_vcpu(Vcpu& vcpu) override;
    /// An ioeventfd and a VMM thread (see fast_paths.hpp).
    Result<std::unique_ptr<FastPath>> add_doorbell(const DoorbellSpec& spec, DoorbellRing ring) override;
    /// A coalesced MMIO zone; the run loop drains the ring on every exit.
    Result<std::unique_ptr<FastPath>> add_write_posting(Range range) override;

    /// KVM's dirty logging (KVM_MEM_LOG_DIRTY_PAGES) on every writable slot,
    /// now and installed later. The first call turns on
    /// KVM_DIRTY_LOG_MANUAL_PROTECT_ENABLE when KVM offers
    /// KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2 (then harvests re-arm only the pages
    /// they report, with KVM_CLEAR_DIRTY_LOG); otherwise KVM_GET_DIRTY_LOG
    /// alone, which clears and write-protects as it reads. Errors:
    /// Errc::backend_error, Errc::out_of_memory (KVM_SET_USER_MEMORY_REGION).
    /// Called with the capability space's tracker lock held (see
    /// MemslotTable for the lock order).
    Result<void> start_dirty_log() override;
    /// Slots become plain again; KVM drops their bitmaps.
    void stop_dirty_log() noexcept override;
    /// KVM_GET_DIRTY_LOG of every logging slot, marked into the frames'
    /// DirtyLog. Cost: one ioctl per logging slot plus a scan of a bit per
    /// page; vCPUs keep running (KVM kicks them to flush their PML buffers).
    Result<void> harvest_dirty_log() override;

    SlotUsage slot_usage() const { return slots_.usage(); }
    /// Memory slots KVM logs writes to now (white-box tests).
    std::size_t dirty_logging_slots() const { return slots_.logging_slots(); }
    /// True when harvests use KVM_CLEAR_DIRTY_LOG (known after the first start_dirty_log).
    bool manual_dirty_clear() const { return manual_clear_; }
    /// Makes dirty logging use KVM_GET_DIRTY_LOG alone, as on a KVM without
    /// KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2 (white-box tests of that path).
    /// False, changing nothing, once the first start_dirty_log has decided.
    bool use_get_dirty_log_alone() {
        bool decided_here = false;
        std::call_once(manual_clear_decided_, [&] { decided_here = true; });
        return decided_here;
    }

    struct Key {  // only create() constructs
        explicit Key() = default;
    };
    KvmBackend(Key, std::shared_ptr<KvmVmFd> vm, std::uint32_t slot_limit);

private:
    std::shared_ptr<KvmVmFd> vm_;  // shared with the vCPUs, which may outlive the backend
    MemslotTable slots_;
    // Decided once, at the first start: KVM_DIRTY_LOG_MANUAL_PROTECT_ENABLE
    // is never turned off again (it only affects slots that log, and it is
    // turned on before any does).
    std::once_flag manual_clear_decided_;
    bool manual_clear_ = false;
};

}  // namespace guestmem::kvm
