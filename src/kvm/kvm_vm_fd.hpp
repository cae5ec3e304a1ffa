// SPDX-License-Identifier: BSD-2-Clause
// A KVM virtual machine file descriptor.
#pragma once

#include <linux/kvm.h>

#include <cstdint>
#include <memory>
#include <mutex>

#include "guestmem/error.hpp"
#include "kvm_system.hpp"
#include "../core/unique_fd.hpp"

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
    /// KVM_GET_DIRTY_LOG of `slot` (address space 0) into `bitmap`, one bit
    /// per 4 KiB page, rounded up to whole 64-bit words. Without manual
    /// protect KVM clears its bits and write-protects the pages it reports in
    /// the same call; with it, KVM_CLEAR_DIRTY_LOG does that. Errors:
    /// Errc::backend_error with KVM's errno (ENOENT: the slot does not log).
    Result<void> get_dirty_log(std::uint32_t slot, std::uint64_t* bitmap) const;
    /// KVM_CLEAR_DIRTY_LOG: clears and write-protects again the pages of
    /// [first_page, first_page + pages) set in `bitmap` (bit 0 is first_page).
    /// KVM wants first_page a multiple of 64 and pages one too unless the
    /// range ends the slot. Errors: Errc::backend_error.
    Result<void> clear_dirty_log(std::uint32_t slot, std::uint64_t first_page, std::uint32_t pages,
                                 std::uint64_t* bitmap) const;
    /// Turns on KVM_DIRTY_LOG_MANUAL_PROTECT_ENABLE (KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2,
    /// KVM_ENABLE_CAP) without KVM_DIRTY_LOG_INITIALLY_SET, so slots that
    /// start logging are write-protected and start clean. Errc::unsupported
    /// when KVM lacks it, Errc::backend_error when KVM refuses; neither is
    /// logged (the caller falls back to KVM_GET_DIRTY_LOG alone).
    Result<void> enable_manual_dirty_log_protect() const;
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
