// SPDX-License-Identifier: BSD-2-Clause
#include "raw_kvm.hpp"

#include <fcntl.h>
#include <linux/kvm.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iterator>
#include <stdexcept>
#include <vector>

namespace bench {

namespace {

constexpr std::uint64_t kRamSize = 0x80000;
constexpr std::uint64_t kEntry = 0x10000;

int check(int r, const char* what) {
    if (r < 0) throw std::runtime_error(std::string(what) + ": " + std::strerror(errno));
    return r;
}

}  // namespace

struct RawKvm::Counter {
    std::atomic<std::uint64_t> rings{0};
};

RawKvm::RawKvm(const std::string& image_path) : counter_(new Counter) {
    kvm_ = check(::open("/dev/kvm", O_RDWR | O_CLOEXEC), "open /dev/kvm");
    vm_ = check(::ioctl(kvm_, KVM_CREATE_VM, 0), "KVM_CREATE_VM");
    if (::ioctl(kvm_, KVM_CHECK_EXTENSION, KVM_CAP_SET_TSS_ADDR) > 0) {
        check(::ioctl(vm_, KVM_SET_TSS_ADDR, 0xfffbd000ul), "KVM_SET_TSS_ADDR");
    }
    ram_ = ::mmap(nullptr, kRamSize, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (ram_ == MAP_FAILED) throw std::runtime_error("mmap RAM");
    std::ifstream in(image_path, std::ios::binary);
    std::vector<char> image((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (image.empty()) throw std::runtime_error("cannot read " + image_path);
    std::memcpy(static_cast<char*>(ram_) + kEntry, image.data(), image.size());
    kvm_userspace_memory_region region{};
    region.slot = 0;
    region.guest_phys_addr = 0;
    region.memory_size = kRamSize;
    region.userspace_addr = reinterpret_cast<std::uint64_t>(ram_);
    check(::ioctl(vm_, KVM_SET_USER_MEMORY_REGION, &region), "KVM_SET_USER_MEMORY_REGION");
    vcpu_ = check(::ioctl(vm_, KVM_CREATE_VCPU, 0), "KVM_CREATE_VCPU");
    run_size_ = static_cast<std::size_t>(check(::ioctl(kvm_, KVM_GET_VCPU_MMAP_SIZE, 0), "KVM_GET_VCPU_MMAP_SIZE"));
    run_ = ::mmap(nullptr, run_size_, PROT_READ | PROT_WRITE, MAP_SHARED, vcpu_, 0);
    if (run_ == MAP_FAILED) throw std::runtime_error("mmap kvm_run");
}

RawKvm::~RawKvm() {
    if (reader_.joinable()) {
        const std::uint64_t one = 1;
        (void)!::write(stop_, &one, sizeof one);
        reader_.join();
    }
    if (event_ >= 0) ::close(event_);
    if (stop_ >= 0) ::close(stop_);
    if (run_ && run_ != MAP_FAILED) ::munmap(run_, run_size_);
    if (vcpu_ >= 0) ::close(vcpu_);
    if (vm_ >= 0) ::close(vm_);
    if (ram_ && ram_ != MAP_FAILED) ::munmap(ram_, kRamSize);
    if (kvm_ >= 0) ::close(kvm_);
    delete counter_;
}

void RawKvm::reset(std::uint16_t di, std::uint16_t si, std::uint16_t dx, std::uint16_t cx) {
    kvm_sregs sregs{};
    check(::ioctl(vcpu_, KVM_GET_SREGS, &sregs), "KVM_GET_SREGS");
    for (kvm_segment* seg : {&sregs.cs, &sregs.ds, &sregs.es, &sregs.fs, &sregs.gs, &sregs.ss}) {
        seg->selector = static_cast<std::uint16_t>(kEntry >> 4);
        seg->base = kEntry;
    }
    check(::ioctl(vcpu_, KVM_SET_SREGS, &sregs), "KVM_SET_SREGS");
    kvm_regs regs{};
    regs.rip = 0;
    regs.rflags = 2;
    regs.rdi = di;
    regs.rsi = si;
    regs.rdx = dx;
    regs.rcx = cx;
    check(::ioctl(vcpu_, KVM_SET_REGS, &regs), "KVM_SET_REGS");
}

std::uint64_t RawKvm::run() {
    auto* run = static_cast<kvm_run*>(run_);
    std::uint64_t mmio = 0;
    for (;;) {
        if (::ioctl(vcpu_, KVM_RUN, 0) < 0) {
            if (errno == EINTR) continue;
            check(-1, "KVM_RUN");
        }
        switch (run->exit_reason) {
        case KVM_EXIT_MMIO:
            ++mmio;
            if (!run->mmio.is_write) std::memset(run->mmio.data, 0, sizeof run->mmio.data);  // the no-op handler
            break;
        case KVM_EXIT_HLT: return mmio;
        default: throw std::runtime_error("unexpected exit " + std::to_string(run->exit_reason));
        }
    }
}

bool RawKvm::add_ioeventfd(std::uint64_t addr, std::uint32_t len, std::optional<std::uint64_t> match) {
    event_ = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    stop_ = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    kvm_ioeventfd io{};
    io.addr = addr;
    io.len = len;
    io.fd = event_;
    if (match) {
        io.datamatch = *match;
        io.flags = KVM_IOEVENTFD_FLAG_DATAMATCH;
    }
    if (::ioctl(vm_, KVM_IOEVENTFD, &io) < 0) return false;
    // The VMM side: a thread waiting on the eventfd, like any ioeventfd user.
    reader_ = std::thread([this] {
        pollfd fds[2] = {{event_, POLLIN, 0}, {stop_, POLLIN, 0}};
        for (;;) {
            if (::poll(fds, 2, -1) < 0) continue;
            std::uint64_t n = 0;
            if ((fds[0].revents & POLLIN) && ::read(event_, &n, sizeof n) == sizeof n) counter_->rings += n;
            if (fds[1].revents & POLLIN) {
                if (::read(event_, &n, sizeof n) == sizeof n) counter_->rings += n;
                return;
            }
        }
    });
    return true;
}

std::uint64_t RawKvm::rings() const { return counter_->rings.load(); }

}  // namespace bench
