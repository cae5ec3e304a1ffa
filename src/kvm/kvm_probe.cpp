// SPDX-License-Identifier: BSD-2-Clause
#include "kvm_probe.hpp"

#include <fcntl.h>
#include <linux/kvm.h>
#include <sys/ioctl.h>

#include <cerrno>
#include <cstring>
#include <string>

#include "format.hpp"
#include "../core/unique_fd.hpp"

namespace guestmem::kvm {

namespace {

constexpr int kApiVersion = 12;

Error unusable(std::string why) { return Error{Errc::unsupported, std::move(why)}; }

std::string with_errno(const char* what) { return std::string(what) + ": " + errno_message(errno); }

}  // namespace

Result<void> probe_kvm() {
    UniqueFd kvm(::open("/dev/kvm", O_RDWR | O_CLOEXEC));
    if (!kvm.valid()) {
        if (errno == ENOENT) return unusable("/dev/kvm is absent");
        return unusable(with_errno("cannot open /dev/kvm"));
    }
    if (const int version = ::ioctl(kvm.get(), KVM_GET_API_VERSION, 0); version != kApiVersion) {
        return unusable("/dev/kvm has API version " + std::to_string(version) + ", expected " +
                        std::to_string(kApiVersion));
    }
    // The capabilities KvmSystem::open insists on.
    const struct {
        long cap;
        const char* name;
    } required[] = {{KVM_CAP_USER_MEMORY, "KVM_CAP_USER_MEMORY"},
                    {KVM_CAP_READONLY_MEM, "KVM_CAP_READONLY_MEM"},
                    {KVM_CAP_IMMEDIATE_EXIT, "KVM_CAP_IMMEDIATE_EXIT"}};
    for (const auto& r : required) {
        if (::ioctl(kvm.get(), KVM_CHECK_EXTENSION, r.cap) <= 0) return unusable(std::string("KVM lacks ") + r.name);
    }
    int vm;
    do {
        vm = ::ioctl(kvm.get(), KVM_CREATE_VM, 0);
    } while (vm < 0 && errno == EINTR);
    if (vm < 0) return unusable(with_errno("KVM_CREATE_VM failed"));
    UniqueFd owned(vm);
    return {};
}

}  // namespace guestmem::kvm
