// SPDX-License-Identifier: BSD-2-Clause
#include "fast_paths.hpp"

#include <poll.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <string>
#include <system_error>
#include <thread>

#include "format.hpp"
#include "kvm_system.hpp"
#include "guestmem/log.hpp"
#include "../core/unique_fd.hpp"

namespace guestmem::kvm {

namespace {

// Waits on a doorbell's eventfd and on a stop eventfd. Shared with the thread
// so that the thread can outlive the doorbell if it is detached.
struct DoorbellState {
    UniqueFd event;
    UniqueFd stop;
    DoorbellRing ring;

    /// Delivers what the eventfd counts now; false if nothing.
    bool deliver() {
        std::uint64_t count = 0;
        if (::read(event.get(), &count, sizeof count) != static_cast<ssize_t>(sizeof count) || count == 0) return false;
        ring(count);
        return true;
    }

    void serve() {
        pollfd fds[2] = {{event.get(), POLLIN, 0}, {stop.get(), POLLIN, 0}};
        for (;;) {
            fds[0].revents = fds[1].revents = 0;
            if (::poll(fds, 2, -1) < 0) {
                if (errno == EINTR) continue;
                log(LogLevel::error, errno_text("guestmem: kvm: doorbell thread: poll"));
                return;
            }
            if (fds[0].revents & POLLIN) deliver();
            if (fds[1].revents & POLLIN) {
                deliver();  // rings signalled before the ioeventfd was deassigned
                return;
            }
        }
    }
};

class KvmDoorbell final : public FastPath {
public:
    KvmDoorbell(std::shared_ptr<const KvmVmFd> vm, kvm_ioeventfd registration, std::shared_ptr<DoorbellState> state)
        : vm_(std::move(vm)), registration_(registration), state_(std::move(state)) {
        thread_ = std::thread([state = state_] { state->serve(); });
    }
    ~KvmDoorbell() override {
        detach();
        const std::uint64_t one = 1;
        if (::write(state_->stop.get(), &one, sizeof one) != static_cast<ssize_t>(sizeof one)) {
            log(LogLevel::error, errno_text("guestmem: kvm: cannot stop a doorbell thread"));
        }
        if (thread_.get_id() == std::this_thread::get_id()) {
            thread_.detach();  // destroyed from its own handler: the thread ends after it
        } else if (thread_.joinable()) {
            thread_.join();
        }
    }
    KvmDoorbell(const KvmDoorbell&) = delete;
    KvmDoorbell& operator=(const KvmDoorbell&) = delete;

    void detach() noexcept override {
        if (detached_) return;
        detached_ = true;
        kvm_ioeventfd deassign = registration_;
        deassign.flags |= KVM_IOEVENTFD_FLAG_DEASSIGN;
        if (::ioctl(vm_->fd(), KVM_IOEVENTFD, &deassign) < 0) {
            log(LogLevel::error, errno_text("guestmem: kvm: KVM_IOEVENTFD (deassign)"));
        }
    }

private:
    std::shared_ptr<const KvmVmFd> vm_;
    kvm_ioeventfd registration_;
    std::shared_ptr<DoorbellState> state_;
    std::thread thread_;
    bool detached_ = false;
};

class KvmCoalescedZone final : public FastPath {
public:
    KvmCoalescedZone(std::shared_ptr<const KvmVmFd> vm, kvm_coalesced_mmio_zone zone)
        : vm_(std::move(vm)), zone_(zone) {}
    ~KvmCoalescedZone() override { detach(); }
    KvmCoalescedZone(const KvmCoalescedZone&) = delete;
    KvmCoalescedZone& operator=(const KvmCoalescedZone&) = delete;

    void detach() noexcept override {
        if (detached_) return;
        detached_ = true;
        if (::ioctl(vm_->fd(), KVM_UNREGISTER_COALESCED_MMIO, &zone_) < 0) {
            log(LogLevel::error, errno_text("guestmem: kvm: KVM_UNREGISTER_COALESCED_MMIO"));
        }
    }

private:
    std::shared_ptr<const KvmVmFd> vm_;
    kvm_coalesced_mmio_zone zone_;
    bool detached_ = false;
};

}  // namespace

Result<std::unique_ptr<FastPath>> make_doorbell(const std::shared_ptr<const KvmVmFd>& vm, const DoorbellSpec& spec,
                                                DoorbellRing ring) {
    if (!vm->system().capabilities().ioeventfd) {
        log(LogLevel::warning, std::string(ApiCall::current()) + ": KVM lacks KVM_CAP_IOEVENTFD: the doorbell at " +
                                   hex(spec.addr) + " is delivered through MMIO exits");
        return std::unique_ptr<FastPath>();
    }
    auto state = std::make_shared<DoorbellState>();
    state->event = UniqueFd(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
    state->stop = UniqueFd(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
    if (!state->event.valid() || !state->stop.valid()) {
        return fail(Errc::out_of_memory, errno_text("cannot create a doorbell eventfd"));
    }
    state->ring = std::move(ring);
    kvm_ioeventfd registration{};
    registration.addr = spec.addr;
    registration.len = spec.size;
    registration.fd = state->event.get();
    if (spec.match) {
        registration.datamatch = *spec.match;
        registration.flags = KVM_IOEVENTFD_FLAG_DATAMATCH;
    }
    if (::ioctl(vm->fd(), KVM_IOEVENTFD, &registration) < 0) {
        return fail(Errc::backend_error, errno_text("KVM_IOEVENTFD") + " (doorbell at " + hex(spec.addr) + ")");
    }
    try {
        return std::unique_ptr<FastPath>(std::make_unique<KvmDoorbell>(vm, registration, std::move(state)));
    } catch (const std::system_error& e) {  // no thread
        registration.flags |= KVM_IOEVENTFD_FLAG_DEASSIGN;
        (void)::ioctl(vm->fd(), KVM_IOEVENTFD, &registration);
        return fail(Errc::out_of_memory, std::string("cannot start the doorbell thread: ") + e.what());
    }
}

Result<std::unique_ptr<FastPath>> make_write_posting(std::shared_ptr<const KvmVmFd> vm, Range range) {
    if (vm->system().capabilities().coalesced_mmio_page == 0) {
        log(LogLevel::warning, std::string(ApiCall::current()) + ": KVM lacks KVM_CAP_COALESCED_MMIO: writes to " +
                                   hex(range.base) + " are delivered through MMIO exits");
        return std::unique_ptr<FastPath>();
    }
    if (range.size > UINT32_MAX) {
        return fail(Errc::invalid_argument, "a write-posting range is at most 4 GiB (KVM's coalesced zones)");
    }
    kvm_coalesced_mmio_zone zone{};
    zone.addr = range.base;
    zone.size = static_cast<std::uint32_t>(range.size);
    if (::ioctl(vm->fd(), KVM_REGISTER_COALESCED_MMIO, &zone) < 0) {
        return fail(errno == ENOBUFS ? Errc::out_of_memory : Errc::backend_error,
                    errno_text("KVM_REGISTER_COALESCED_MMIO") + " (zone at " + hex(range.base) + ")");
    }
    return std::unique_ptr<FastPath>(std::make_unique<KvmCoalescedZone>(std::move(vm), zone));
}

namespace {
constexpr std::size_t kRingHeader = 2 * sizeof(std::uint32_t);  // first, last
}  // namespace

std::uint32_t coalesced_ring_entries() {
    const auto page = static_cast<std::size_t>(::sysconf(_SC_PAGESIZE));
    return static_cast<std::uint32_t>((page - kRingHeader) / sizeof(kvm_coalesced_mmio));
}

kvm_coalesced_mmio coalesced_entry(const kvm_coalesced_mmio_ring* ring, std::uint32_t index) {
    kvm_coalesced_mmio entry;
    std::memcpy(&entry, reinterpret_cast<const std::byte*>(ring) + kRingHeader + std::size_t{index} * sizeof entry,
                sizeof entry);
    return entry;
}

}  // namespace guestmem::kvm
