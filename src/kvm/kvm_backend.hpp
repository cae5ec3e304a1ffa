// SPDX-License-Identifier: BSD-2-Clause
// The KVM hypervisor backend of a Vm.
#pragma once

#include <memory>
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

    SlotUsage slot_usage() const { return slots_.usage(); }

    struct Key {  // only create() constructs
        explicit Key() = default;
    };
    KvmBackend(Key, std::shared_ptr<KvmVmFd> vm, std::uint32_t slot_limit);

private:
    std::shared_ptr<KvmVmFd> vm_;  // shared with the vCPUs, which may outlive the backend
    MemslotTable slots_;
};

}  // namespace guestmem::kvm
