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

Result<void> KvmVmFd::get_dirty_log(std::uint32_t slot, std::uint64_t* bitmap) const {
    kvm_dirty_log log{};
    log.slot = slot;
    log.dirty_bitmap = bitmap;
    if (::ioctl(fd_.get(), KVM_GET_DIRTY_LOG, &log) < 0) {
        return fail(Errc::backend_error, errno_text("KVM_GET_DIRTY_LOG") + " (slot " + std::to_string(slot) + ")");
    }
    return {};
}

Result<void> KvmVmFd::clear_dirty_log(std::uint32_t slot, std::uint64_t first_page, std::uint32_t pages,
                                      std::uint64_t* bitmap) const {
    kvm_clear_dirty_log log{};
    log.slot = slot;
    log.num_pages = pages;
    log.first_page = first_page;
    log.dirty_bitmap = bitmap;
    if (::ioctl(fd_.get(), KVM_CLEAR_DIRTY_LOG, &log) < 0) {
        return fail(Errc::backend_error, errno_text("KVM_CLEAR_DIRTY_LOG") + " (slot " + std::to_string(slot) + ")");
    }
    return {};
}

// Not logged as an error: the caller falls back to KVM_GET_DIRTY_LOG alone.
Result<void> KvmVmFd::enable_manual_dirty_log_protect() const {
    // On a VM fd KVM_CHECK_EXTENSION answers with the flags KVM accepts.
    const int offered = ::ioctl(fd_.get(), KVM_CHECK_EXTENSION, KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2);
    if (offered <= 0 || (offered & KVM_DIRTY_LOG_MANUAL_PROTECT_ENABLE) == 0) {
        return Error{Errc::unsupported, "KVM lacks KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2"};
    }
    kvm_enable_cap cap{};
    cap.cap = KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2;
    cap.args[0] = KVM_DIRTY_LOG_MANUAL_PROTECT_ENABLE;
    if (::ioctl(fd_.get(), KVM_ENABLE_CAP, &cap) < 0) {
        return Error{Errc::backend_error, errno_text("KVM_ENABLE_CAP(KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2)")};
    }
    return {};
}

Result<UniqueFd> KvmVmFd::create_vcpu(unsigned id) const {
    const int fd = ::ioctl(fd_.get(), KVM_CREATE_VCPU, static_cast<unsigned long>(id));
    if (fd < 0) return fail(Errc::backend_error, errno_text("KVM_CREATE_VCPU") + " (id " + std::to_string(id) + ")");
    return UniqueFd(fd);
}

}  // namespace guestmem::kvm
