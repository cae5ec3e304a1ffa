// SPDX-License-Identifier: BSD-2-Clause
#include "kvm_vcpu.hpp"

#include <signal.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>
#include <string>
#include <vector>

#include "guestmem/vcpu.hpp"
#include "kick_signal.hpp"
#include "kvm_state.hpp"
#include "run_loop.hpp"

namespace guestmem::kvm {

namespace {

Result<void> set_cpuid(int fd, const std::vector<kvm_cpuid_entry2>& entries) {
    const std::size_t header_entries = (sizeof(kvm_cpuid2) + sizeof(kvm_cpuid_entry2) - 1) / sizeof(kvm_cpuid_entry2);
    std::vector<kvm_cpuid_entry2> buffer(header_entries + entries.size());
    auto* cpuid = reinterpret_cast<kvm_cpuid2*>(buffer.data());
    cpuid->nent = static_cast<std::uint32_t>(entries.size());
    std::copy(entries.begin(), entries.end(), cpuid->entries);
    if (::ioctl(fd, KVM_SET_CPUID2, cpuid) < 0) return fail(Errc::backend_error, errno_text("KVM_SET_CPUID2"));
    return {};
}

}  // namespace

Result<std::unique_ptr<KvmVcpu>> KvmVcpu::create(std::shared_ptr<const KvmVmFd> vm, Vcpu& vcpu) {
    auto fd = vm->create_vcpu(vcpu.index());
    if (!fd) return fd.error();
    const std::size_t size = vm->system().capabilities().vcpu_mmap_size;
    void* area = ::mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd->get(), 0);
    if (area == MAP_FAILED) return fail(Errc::out_of_memory, errno_text("cannot map the vCPU's kvm_run area"));
    MappedRegion run_area(area, size);
    // The guest sees the host's CPU features KVM can virtualise (long mode, 1 GiB pages, ...).
    if (const auto& cpuid = vm->system().supported_cpuid(); !cpuid.empty()) {
        if (auto set = set_cpuid(fd->get(), cpuid); !set) return set.error();
    }
    return std::make_unique<KvmVcpu>(Key{}, std::move(vm), vcpu, std::move(*fd), std::move(run_area));
}

KvmVcpu::KvmVcpu(Key, std::shared_ptr<const KvmVmFd> vm, Vcpu& vcpu, UniqueFd fd, MappedRegion run_area)
    : vm_(std::move(vm)), vcpu_(vcpu), fd_(std::move(fd)), run_area_(std::move(run_area)) {
    if (const std::uint32_t page = vm_->system().capabilities().coalesced_mmio_page; page != 0) {
        const std::size_t offset = std::size_t{page} * static_cast<std::size_t>(::sysconf(_SC_PAGESIZE));
        coalesced_ring_ = reinterpret_cast<kvm_coalesced_mmio_ring*>(static_cast<std::byte*>(run_area_.get()) + offset);
    }
}

KvmVcpu::~KvmVcpu() = default;

GuestAddr KvmVcpu::instruction_pointer() {
    if (!cached_ip_) {
        auto regs = get_regs();
        if (!regs) return 0;
        cached_ip_ = regs->rip;
    }
    return *cached_ip_;
}

Result<RunResult> KvmVcpu::run() { return run_vcpu(*this); }

Result<Registers> KvmVcpu::registers() {
    auto regs = get_regs();
    if (!regs) return regs.error();
    return Registers{from_kvm(*regs)};
}

Result<void> KvmVcpu::set_registers(const Registers& registers) {
    const auto* x86 = std::get_if<X86Registers>(&registers);
    if (!x86) return fail(Errc::invalid_argument, "a KVM vCPU takes x86_64 registers");
    return set_regs(to_kvm(*x86));
}

Result<SystemState> KvmVcpu::system_state() {
    auto sregs = get_sregs();
    if (!sregs) return sregs.error();
    return SystemState{from_kvm(*sregs)};
}

Result<void> KvmVcpu::set_system_state(const SystemState& state) {
    const auto* x86 = std::get_if<X86SystemState>(&state);
    if (!x86) return fail(Errc::invalid_argument, "a KVM vCPU takes x86_64 system state");
    auto sregs = get_sregs();  // keeps what X86SystemState does not hold (CR2, APIC base, ...)
    if (!sregs) return sregs.error();
    return set_sregs(to_kvm(*x86, *sregs));
}

Result<void> KvmVcpu::set_port_io_handler(PortIoHandler handler) {
    port_handler_ = std::move(handler);
    return {};
}

Result<kvm_regs> KvmVcpu::get_regs() const {
    kvm_regs regs{};
    if (::ioctl(fd_.get(), KVM_GET_REGS, &regs) < 0) return fail(Errc::backend_error, errno_text("KVM_GET_REGS"));
    return regs;
}

Result<void> KvmVcpu::set_regs(const kvm_regs& regs) {
    settle();  // a pending MMIO completion would overwrite the new registers
    if (::ioctl(fd_.get(), KVM_SET_REGS, &regs) < 0) return fail(Errc::backend_error, errno_text("KVM_SET_REGS"));
    cached_ip_.reset();
    return {};
}

Result<kvm_sregs> KvmVcpu::get_sregs() const {
    kvm_sregs sregs{};
    if (::ioctl(fd_.get(), KVM_GET_SREGS, &sregs) < 0) return fail(Errc::backend_error, errno_text("KVM_GET_SREGS"));
    return sregs;
}

Result<void> KvmVcpu::set_sregs(const kvm_sregs& sregs) {
    settle();
    if (::ioctl(fd_.get(), KVM_SET_SREGS, &sregs) < 0) {
        return fail(Errc::invalid_argument, errno_text("KVM_SET_SREGS refused the segment and control registers"));
    }
    return {};
}

Result<void> KvmVcpu::enter() {
    cached_ip_.reset();
    completion_pending_ = false;  // KVM_RUN completes it before anything else
    if (::ioctl(fd_.get(), KVM_RUN, 0) < 0) {
        if (errno == EINTR || errno == EAGAIN) {
            run_area().exit_reason = KVM_EXIT_INTR;
            return {};
        }
        return fail(Errc::backend_error, errno_text("KVM_RUN"));
    }
    return {};
}

void KvmVcpu::settle() noexcept {
    if (!completion_pending_) return;
    completion_pending_ = false;
    set_immediate_exit(true);
    ::ioctl(fd_.get(), KVM_RUN, 0);  // returns EINTR once the pending exit is completed
    set_immediate_exit(false);
    // A stop requested meanwhile must keep immediate_exit set (see take_stop_request).
    if (stop_requested_.load()) set_immediate_exit(true);
    cached_ip_.reset();
}

bool KvmVcpu::begin_run() {
    std::lock_guard lock(running_mutex_);
    if (running_) return false;
    running_ = true;
    thread_ = pthread_self();
    return true;
}

void KvmVcpu::end_run() {
    std::lock_guard lock(running_mutex_);
    running_ = false;
}

void KvmVcpu::set_immediate_exit(bool on) noexcept {
    // The kernel reads this byte at KVM_RUN entry; request_stop writes it from other threads.
    std::atomic_ref<std::uint8_t>(run_area().immediate_exit).store(on ? 1 : 0);
}

void KvmVcpu::request_stop() noexcept {
    stop_requested_.store(true);
    set_immediate_exit(true);  // a KVM_RUN about to start returns at once
    install_kick_handler();
    std::lock_guard lock(running_mutex_);
    // A KVM_RUN already under way needs a signal. The thread is alive: run()
    // clears running_ under this mutex before it returns.
    if (running_) pthread_kill(thread_, kick_signal_number());
}

bool KvmVcpu::take_stop_request() noexcept {
    // Checked on every exit: a plain load first, the locked exchange only
    // when a request is there.
    if (!stop_requested_.load(std::memory_order_relaxed) || !stop_requested_.exchange(false)) return false;
    set_immediate_exit(false);
    // Written after the exchange: a request that came in between sets it again.
    if (stop_requested_.load()) set_immediate_exit(true);
    return true;
}

}  // namespace guestmem::kvm
