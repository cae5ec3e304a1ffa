// SPDX-License-Identifier: BSD-2-Clause
#include "run_loop.hpp"

#include <algorithm>
#include <cstdio>
#include <iterator>
#include <mutex>
#include <optional>
#include <string>

#include "guestmem/log.hpp"
#include "format.hpp"
#include "guestmem/vcpu.hpp"
#include "guestmem/vm.hpp"
#include "deferred_fetch.hpp"
#include "fast_paths.hpp"
#include "mmio_exit.hpp"
#include "port_io_exit.hpp"

namespace guestmem::kvm {

namespace {

// Marks the vCPU running for the scope of a run and settles it on the way out.
class RunScope {
public:
    explicit RunScope(KvmVcpu& vcpu) : vcpu_(vcpu), owned_(vcpu.begin_run()) {}
    ~RunScope() {
        if (!owned_) return;
        vcpu_.settle();
        vcpu_.end_run();
    }
    RunScope(const RunScope&) = delete;
    RunScope& operator=(const RunScope&) = delete;
    bool owned() const { return owned_; }

private:
    KvmVcpu& vcpu_;
    bool owned_;
};

class RunLoop {
public:
    explicit RunLoop(KvmVcpu& vcpu) : vcpu_(vcpu), run_(vcpu.run_area()) {}

    Result<RunResult> loop() {
        for (;;) {
            if (vcpu_.take_stop_request()) return stop(StopReason::stopped, "stopped by request_stop");
            if (auto entered = vcpu_.enter(); !entered) return entered.error();
            ++result_.exits.total;
            // Posted writes go first: the exit may be a read of the same device.
            if (auto failed = drain_posted_writes()) return *failed;
            if (auto done = handle_exit()) return *done;
        }
    }

private:
    // nullopt: keep running.
    std::optional<RunResult> handle_exit() {
        switch (run_.exit_reason) {
        case KVM_EXIT_MMIO: return mmio();
        case KVM_EXIT_IO: return port_io();
        case KVM_EXIT_HLT: return stop(StopReason::halted, "");
        case KVM_EXIT_INTR:
            ++result_.exits.interrupted;
            return std::nullopt;  // a signal: the loop head checks for a stop request
        case KVM_EXIT_SHUTDOWN:
            return after_deferred_touch(DeferredTouch::shutdown, StopReason::exception,
                                        "the guest shut down (triple fault: an exception it could not handle)");
        case KVM_EXIT_INTERNAL_ERROR:
            if (run_.internal.suberror != KVM_INTERNAL_ERROR_EMULATION) {
                return stop(StopReason::internal_error, internal_error_text());
            }
            return after_deferred_touch(DeferredTouch::emulation_failure, StopReason::internal_error,
                                        internal_error_text());
        case KVM_EXIT_FAIL_ENTRY:
            return stop(StopReason::entry_failed, "the CPU refused to enter the guest (hardware reason " +
                                                      hex(run_.fail_entry.hardware_entry_failure_reason) +
                                                      "): invalid guest state");
        default:
            return stop(StopReason::unexpected_exit, "unexpected KVM exit reason " + std::to_string(run_.exit_reason));
        }
    }

    // Hands the writes queued in the VM's coalesced MMIO ring to the core, in
    // order. The ring is shared by the VM's vCPUs: whoever drains holds the
    // VM's ring lock for the whole drain, so a vCPU about to dispatch a read
    // waits until every write posted before its exit is delivered.
    std::optional<RunResult> drain_posted_writes() {
        kvm_coalesced_mmio_ring* ring = vcpu_.coalesced_ring();
        if (!ring) return std::nullopt;
        if (__atomic_load_n(&ring->first, __ATOMIC_RELAXED) == __atomic_load_n(&ring->last, __ATOMIC_ACQUIRE)) {
            return std::nullopt;
        }
        static const std::uint32_t entries = coalesced_ring_entries();
        Vcpu& core = vcpu_.core();
        std::lock_guard lock(vcpu_.vm_fd().coalesced_mutex());
        for (;;) {
            const std::uint32_t first = __atomic_load_n(&ring->first, __ATOMIC_RELAXED);
            if (first == __atomic_load_n(&ring->last, __ATOMIC_ACQUIRE)) return std::nullopt;
            const kvm_coalesced_mmio entry = coalesced_entry(ring, first % entries);
            __atomic_store_n(&ring->first, (first + 1) % entries, __ATOMIC_RELEASE);
            ++result_.exits.posted_writes;
            std::uint8_t data[sizeof entry.data];
            std::copy(std::begin(entry.data), std::end(entry.data), data);
            if (AccessOutcome outcome =
                    dispatch_mmio(core.vm(), core, entry.phys_addr, data, entry.len, /*is_write=*/true);
                !outcome) {
                // The exit being handled is abandoned: complete a pending read as 0.
                if (run_.exit_reason == KVM_EXIT_MMIO) {
                    if (!run_.mmio.is_write) std::fill(std::begin(run_.mmio.data), std::end(run_.mmio.data), 0);
                    vcpu_.set_completion_pending();
                } else if (run_.exit_reason == KVM_EXIT_IO) {
                    vcpu_.set_completion_pending();
                }
                return failed_access(*outcome.failure);
            }
        }
    }

    // The run ends where the access failed: it reports (and logs) the failure once.
    RunResult failed_access(FaultReport report) {
        result_.ip = report.ip;  // the core read it for the report: no second register read
        std::string message = describe(report);
        result_.fault = report;
        return stop(StopReason::fault_error, std::move(message));
    }

    std::optional<RunResult> mmio() {
        ++result_.exits.mmio;
        vcpu_.set_completion_pending();
        Vcpu& core = vcpu_.core();
        const bool is_write = run_.mmio.is_write != 0;
        if (!is_write) std::fill(std::begin(run_.mmio.data), std::end(run_.mmio.data), 0);
        AccessOutcome outcome =
            dispatch_mmio(core.vm(), core, run_.mmio.phys_addr, run_.mmio.data, run_.mmio.len, is_write);
        if (outcome) return std::nullopt;
        // The failed read completes as 0 when the vCPU is settled (see KvmVcpu::run).
        if (!is_write) std::fill(std::begin(run_.mmio.data), std::end(run_.mmio.data), 0);
        return failed_access(*outcome.failure);
    }

    std::optional<RunResult> port_io() {
        ++result_.exits.port_io;
        vcpu_.set_completion_pending();
        auto failure = handle_port_io(run_, vcpu_.port_handler());
        if (!failure) return std::nullopt;
        if (!failure->access.is_write) {
            // The failed IN completes as 0 when the vCPU is settled.
            auto* data = reinterpret_cast<std::uint8_t*>(&run_) + run_.io.data_offset;
            std::fill(data, data + std::size_t{run_.io.size} * run_.io.count, 0);
        }
        result_.port = failure->access;
        return stop(StopReason::port_io_error, std::move(failure->reason));
    }

    // The exits a first touch of deferred memory that is no data access
    // ends in (see deferred_fetch.hpp): once the mappings it needs are
    // completed, the guest retries the instruction. Bounded: a retry either
    // used up a deferred mapping, of which there are finitely many, or is
    // the one retry at an instruction whose needs another vCPU mapped since
    // the exit; failing again there with nothing new mapped is reported.
    std::optional<RunResult> after_deferred_touch(DeferredTouch touch, StopReason reason, std::string message) {
        auto outcome = map_deferred_for(vcpu_, touch);
        if (!outcome) {
            return stop(reason,
                        message + "; completing the deferred mapping it needed failed: " + outcome.error().message);
        }
        if (outcome->mapped) {
            retried_at_.reset();
            return std::nullopt;
        }
        if (outcome->resolved && retried_at_ != outcome->ip) {
            retried_at_ = outcome->ip;
            return std::nullopt;
        }
        return stop(reason, std::move(message));
    }

    std::string internal_error_text() const {
        std::string text = "KVM internal error, suberror " + std::to_string(run_.internal.suberror);
        switch (run_.internal.suberror) {
        case KVM_INTERNAL_ERROR_EMULATION:
            text += " (emulation failure: an instruction KVM cannot emulate, e.g. code fetched from "
                    "unmapped or emulated memory)";
            break;
        case KVM_INTERNAL_ERROR_SIMUL_EX: text += " (exception while delivering an exception)"; break;
        case KVM_INTERNAL_ERROR_DELIVERY_EV: text += " (event delivery failed)"; break;
        default: break;
        }
        return text;
    }

    RunResult stop(StopReason reason, std::string message) {
        result_.reason = reason;
        result_.message = std::move(message);
        if (reason != StopReason::fault_error) {
            if (auto regs = vcpu_.get_regs()) result_.ip = regs->rip;
        }
        if (reason != StopReason::halted) {
            log(reason == StopReason::stopped ? LogLevel::info : LogLevel::error,
                std::string(ApiCall::current()) + ": vCPU " + std::to_string(vcpu_.core().index()) + " stopped (" +
                    std::string(to_string(reason)) + ") at ip " + hex(result_.ip) + ": " + result_.message);
        }
        return std::move(result_);
    }

    KvmVcpu& vcpu_;
    kvm_run& run_;
    RunResult result_;
    std::optional<GuestAddr> retried_at_;  // after_deferred_touch's retry without a new mapping
};

}  // namespace

Result<RunResult> run_vcpu(KvmVcpu& vcpu) {
    RunScope scope(vcpu);
    if (!scope.owned()) return fail(Errc::invalid_argument, "the vCPU is already running on another thread");
    return RunLoop(vcpu).loop();
}

}  // namespace guestmem::kvm
