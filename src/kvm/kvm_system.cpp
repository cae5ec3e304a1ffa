// SPDX-License-Identifier: BSD-2-Clause
#include "kvm_system.hpp"

#include <fcntl.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>

#include "format.hpp"
#include "guestmem/log.hpp"

namespace guestmem::kvm {

namespace {

constexpr const char* kDevice = "/dev/kvm";
constexpr int kApiVersion = 12;  // the only stable KVM API version

int check(int fd, long cap) {
    const int r = ::ioctl(fd, KVM_CHECK_EXTENSION, cap);
    return r < 0 ? 0 : r;
}

// KVM_GET_SUPPORTED_CPUID wants a buffer large enough for every entry and
// fails with E2BIG otherwise, so grow until it fits. Some KVM implementations
// (software ones) do not offer it at all: vCPUs then keep KVM's own CPUID, so
// an empty list is not an error.
std::vector<kvm_cpuid_entry2> read_supported_cpuid(int fd) {
    for (std::size_t n = 64; n <= 4096; n *= 2) {
        // kvm_cpuid2 ends in a flexible array: lay it out in a buffer of entries.
        const std::size_t header_entries =
            (sizeof(kvm_cpuid2) + sizeof(kvm_cpuid_entry2) - 1) / sizeof(kvm_cpuid_entry2);
        std::vector<kvm_cpuid_entry2> buffer(header_entries + n);
        auto* cpuid = reinterpret_cast<kvm_cpuid2*>(buffer.data());
        cpuid->nent = static_cast<std::uint32_t>(n);
        if (::ioctl(fd, KVM_GET_SUPPORTED_CPUID, cpuid) == 0) {
            return std::vector<kvm_cpuid_entry2>(cpuid->entries, cpuid->entries + cpuid->nent);
        }
        if (errno != E2BIG) break;
    }
    log(LogLevel::info, "guestmem: kvm: KVM_GET_SUPPORTED_CPUID unavailable; vCPUs keep KVM's default CPUID");
    return {};
}

}  // namespace

std::string errno_text(const char* what) { return std::string(what) + ": " + errno_message(errno); }

bool kvm_device_present() { return ::access(kDevice, F_OK) == 0; }

Result<std::shared_ptr<const KvmSystem>> KvmSystem::open() {
    UniqueFd fd(::open(kDevice, O_RDWR | O_CLOEXEC));
    if (!fd.valid()) {
        if (errno == ENOENT) {
            return fail(Errc::unsupported, "/dev/kvm is absent: this host offers no KVM (use the sim backend)");
        }
        return fail(Errc::backend_error, errno_text("cannot open /dev/kvm"));
    }
    const int version = ::ioctl(fd.get(), KVM_GET_API_VERSION, 0);
    if (version != kApiVersion) {
        return fail(Errc::unsupported, "/dev/kvm has API version " + std::to_string(version) + ", expected " +
                                           std::to_string(kApiVersion));
    }
    KvmCapabilities caps;
    if (check(fd.get(), KVM_CAP_USER_MEMORY) == 0) {
        return fail(Errc::unsupported, "KVM lacks KVM_CAP_USER_MEMORY");
    }
    // Before KVM_CAP_NR_MEMSLOTS existed KVM had 32 slots.
    const int slots = check(fd.get(), KVM_CAP_NR_MEMSLOTS);
    caps.user_memslots = slots > 0 ? static_cast<std::uint32_t>(slots) : 32;
    caps.readonly_memory = check(fd.get(), KVM_CAP_READONLY_MEM) != 0;
    if (!caps.readonly_memory) {
        // Without it read-only frames could not fault on writes (docs/concepts.md, "Backends").
        return fail(Errc::unsupported, "KVM lacks KVM_CAP_READONLY_MEM (read-only guest memory)");
    }
    caps.immediate_exit = check(fd.get(), KVM_CAP_IMMEDIATE_EXIT) != 0;
    if (!caps.immediate_exit) {
        // Without it a vCPU cannot complete a pending exit without running the
        // guest on, nor be stopped reliably (KVM before Linux 4.11).
        return fail(Errc::unsupported, "KVM lacks KVM_CAP_IMMEDIATE_EXIT");
    }
    caps.set_tss_address = check(fd.get(), KVM_CAP_SET_TSS_ADDR) != 0;
    const int mmap_size = ::ioctl(fd.get(), KVM_GET_VCPU_MMAP_SIZE, 0);
    if (mmap_size < static_cast<int>(sizeof(kvm_run))) {
        return fail(Errc::backend_error, errno_text("KVM_GET_VCPU_MMAP_SIZE"));
    }
    caps.vcpu_mmap_size = static_cast<std::size_t>(mmap_size);
    caps.ioeventfd = check(fd.get(), KVM_CAP_IOEVENTFD) != 0;
    const int coalesced = check(fd.get(), KVM_CAP_COALESCED_MMIO);
    const long page = ::sysconf(_SC_PAGESIZE);
    // The ring must lie inside the kvm_run mapping of every vCPU.
    if (coalesced > 0 &&
        static_cast<std::size_t>(coalesced + 1) * static_cast<std::size_t>(page) <= caps.vcpu_mmap_size) {
        caps.coalesced_mmio_page = static_cast<std::uint32_t>(coalesced);
    }

    std::vector<kvm_cpuid_entry2> cpuid = read_supported_cpuid(fd.get());
    return std::make_shared<const KvmSystem>(Key{}, std::move(fd), caps, std::move(cpuid));
}

}  // namespace guestmem::kvm
