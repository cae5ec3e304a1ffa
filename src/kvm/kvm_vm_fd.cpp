// SPDX-License-Identifier: BSD-2-Clause
#include "kvm_vm_fd.hpp"

#include <sys/ioctl.h>

#include <cerrno>
#include <string>

namespace guestmem::kvm {

Result<std::shared_ptr<KvmVmFd>> KvmVmFd::create(std::shared_ptr<const KvmSystem> system, std::uint32_t tss_address) {
    int fd;
    do {
        fd = ::ioctl(system->fd(), KVM_CREATE_VM, 0);
    } while (fd < 0 && errno == EINTR);  // KVM_CREATE_VM may be interrupted while it sets up
    if (fd < 0) return fail(Errc::backend_error, errno_text("KVM_CREATE_VM"));
    UniqueFd vm(fd);
    if (system->capabilities().set_tss_address) {
        if (::ioctl(vm.get(), KVM_SET_TSS_ADDR, static_cast<unsigned long>(tss_address)) < 0) {
            return fail(Errc::backend_error, errno_text("KVM_SET_TSS_ADDR"));
        }
    }
    return std::make_shared<KvmVmFd>(Key{}, std::move(system), std::move(vm));
}

Result<void> KvmVmFd::set_memory_region(const kvm_userspace_memory_region& region) const {
    if (::ioctl(fd_.get(), KVM_SET_USER_MEMORY_REGION, &region) < 0) {
        return fail(errno == ENOMEM ? Errc::out_of_memory : Errc::backend_error,
                    errno_text("KVM_SET_USER_MEMORY_REGION") + " (slot " + std::to_string(region.slot) + ")");
    }
    return {};
}

Result<UniqueFd> KvmVmFd::create_vcpu(unsigned id) const {
    const int fd = ::ioctl(fd_.get(), KVM_CREATE_VCPU, static_cast<unsigned long>(id));
    if (fd < 0) return fail(Errc::backend_error, errno_text("KVM_CREATE_VCPU") + " (id " + std::to_string(id) + ")");
    return UniqueFd(fd);
}

}  // namespace guestmem::kvm
