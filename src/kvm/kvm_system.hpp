// SPDX-License-Identifier: BSD-2-Clause
// /dev/kvm: the KVM subsystem and what it offers.
#pragma once

#include <linux/kvm.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "guestmem/error.hpp"
#include "../core/unique_fd.hpp"

namespace guestmem::kvm {

/// The KVM features this backend relies on or adapts to, read once.
struct KvmCapabilities {
    std::uint32_t user_memslots = 0;  ///< KVM_CAP_NR_MEMSLOTS: slot ids are below this
    bool readonly_memory = false;     ///< KVM_CAP_READONLY_MEM (required)
    bool immediate_exit = false;      ///< KVM_CAP_IMMEDIATE_EXIT (required)
    bool set_tss_address = false;     ///< KVM_CAP_SET_TSS_ADDR (needed for real mode on some Intel CPUs)
    std::size_t vcpu_mmap_size = 0;   ///< size of the kvm_run area of a vCPU fd
    bool ioeventfd = false;           ///< KVM_CAP_IOEVENTFD (doorbells without exits; optional)
    /// KVM_CAP_COALESCED_MMIO: the page of the kvm_run area holding the
    /// coalesced MMIO ring (0: not supported; write posting then exits).
    std::uint32_t coalesced_mmio_page = 0;
};

/// An open /dev/kvm with a checked API version and its capabilities.
///
/// Thread safety: immutable after open(); shared by a backend and its vCPUs.
class KvmSystem {
public:
    /// Opens /dev/kvm. Fails with Errc::unsupported when it is absent or lacks
    /// a feature the backend needs, Errc::backend_error when it cannot be used.
    static Result<std::shared_ptr<const KvmSystem>> open();

    int fd() const { return fd_.get(); }
    const KvmCapabilities& capabilities() const { return caps_; }
    /// The CPUID entries KVM supports on this host (KVM_GET_SUPPORTED_CPUID):
    /// vCPUs get them so guests see long mode, 1 GiB pages and so on. Empty
    /// when KVM does not offer the list (vCPUs then keep KVM's default CPUID).
    const std::vector<kvm_cpuid_entry2>& supported_cpuid() const { return cpuid_; }

    struct Key {  // only open() constructs
        explicit Key() = default;
    };
    KvmSystem(Key, UniqueFd fd, KvmCapabilities caps, std::vector<kvm_cpuid_entry2> cpuid)
        : fd_(std::move(fd)), caps_(caps), cpuid_(std::move(cpuid)) {}

private:
    UniqueFd fd_;
    KvmCapabilities caps_;
    std::vector<kvm_cpuid_entry2> cpuid_;
};

/// True when /dev/kvm exists (it may still be unusable; open() says why).
bool kvm_device_present();

/// "what: strerror(errno)" for error messages after a failed system call.
std::string errno_text(const char* what);

}  // namespace guestmem::kvm
