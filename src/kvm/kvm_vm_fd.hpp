// SPDX-License-Identifier: BSD-2-Clause
// A KVM virtual machine file descriptor.
#pragma once

#include <linux/kvm.h>

#include <cstdint>
#include <memory>
#include <mutex>

#include "guestmem/error.hpp"
#include "kvm_system.hpp"
#include "unique_fd.hpp"

namespace guestmem::kvm {

/// One KVM VM (KVM_CREATE_VM): the owner of memory slots and vCPU fds.
///
/// Thread safety: every member may be called from any thread; KVM serialises
/// memory-slot changes itself and lets them happen while vCPUs run.
class KvmVmFd {
public:
    /// Creates the VM. `tss_address` (if KVM wants one) is where KVM keeps
    /// three pages of private memory for real mode on Intel CPUs without
    /// unrestricted guest support; guests must not put memory slots there.
    static Result<std::shared_ptr<KvmVmFd>> create(std::shared_ptr<const KvmSystem> system, std::uint32_t tss_address);

    /// KVM_SET_USER_MEMORY_REGION: creates, or with memory_size 0 deletes, a slot.
    Result<void> set_memory_region(const kvm_userspace_memory_region& region) const;
    /// KVM_CREATE_VCPU.
    Result<UniqueFd> create_vcpu(unsigned id) const;

    const KvmSystem& system() const { return *system_; }
    const std::shared_ptr<const KvmSystem>& shared_system() const { return system_; }
    int fd() const { return fd_.get(); }
    /// Serialises draining the VM's coalesced MMIO ring (shared by its vCPUs).
    std::mutex& coalesced_mutex() const { return coalesced_mutex_; }

    struct Key {  // only create() constructs
        explicit Key() = default;
    };
    KvmVmFd(Key, std::shared_ptr<const KvmSystem> system, UniqueFd fd)
        : system_(std::move(system)), fd_(std::move(fd)) {}

private:
    std::shared_ptr<const KvmSystem> system_;
    UniqueFd fd_;
    mutable std::mutex
        coalesced_mutex_;  // held while posted writes reach handlers: outermost, like a doorbell's call lock
};

}  // namespace guestmem::kvm
