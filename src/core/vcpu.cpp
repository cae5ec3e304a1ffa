// SPDX-License-Identifier: BSD-2-Clause
#include "guestmem/vcpu.hpp"

#include "guestmem/log.hpp"
#include "guestmem/vm.hpp"

#include "region_index.hpp"

namespace guestmem {

Vcpu::Vcpu(Vm& vm, unsigned index) : vm_(vm), index_(index), lookup_cache_(std::make_unique<LookupCache>()) {}

Vcpu::~Vcpu() = default;

Arch Vcpu::arch() const { return vm_.backend().arch(); }

Result<RunResult> Vcpu::run() {
    ApiCall call("Vcpu::run");
    exit_status_.reset();
    auto result = backend_->run();
    // An exit is a stop the guest's device asked for: report it as such.
    if (result && result->reason == StopReason::stopped && exit_status_) {
        result->reason = StopReason::exited;
        result->exit_status = *exit_status_;
        result->message.clear();
    }
    exit_status_.reset();
    return result;
}

void Vcpu::request_stop() noexcept { backend_->request_stop(); }

void Vcpu::request_exit(std::int64_t status) noexcept {
    exit_status_ = status;
    backend_->request_stop();
}

Result<Registers> Vcpu::registers() const {
    ApiCall call("Vcpu::registers");
    return backend_->registers();
}

// A fault handler runs in the middle of a guest instruction: changing the
// registers under it would make the backend complete (or repeat) a different
// instruction than the one that faulted.
Result<void> Vcpu::check_not_in_handler() const {
    if (current_fault_) {
        return fail(Errc::invalid_argument,
                    "the vCPU is inside one of its fault handlers (an access is in progress): change its "
                    "registers or state before or after run(), or from another handler with request_stop()");
    }
    return {};
}

Result<void> Vcpu::set_registers(const Registers& registers) {
    ApiCall call("Vcpu::set_registers");
    if (auto ok = check_not_in_handler(); !ok) return ok;
    if (arch_of(registers) != arch()) {
        return fail(Errc::invalid_argument, "registers of " + std::string(to_string(arch_of(registers))) +
                                                " for a vCPU of " + std::string(to_string(arch())));
    }
    return backend_->set_registers(registers);
}

Result<SystemState> Vcpu::system_state() const {
    ApiCall call("Vcpu::system_state");
    return backend_->system_state();
}

Result<void> Vcpu::set_system_state(const SystemState& state) {
    ApiCall call("Vcpu::set_system_state");
    if (auto ok = check_not_in_handler(); !ok) return ok;
    const Arch of = std::holds_alternative<X86SystemState>(state) ? Arch::x86_64 : Arch::aarch64;
    if (of != arch()) {
        return fail(Errc::invalid_argument, "system state of " + std::string(to_string(of)) + " for a vCPU of " +
                                                std::string(to_string(arch())));
    }
    return backend_->set_system_state(state);
}

Result<void> Vcpu::set_port_io_handler(PortIoHandler handler) {
    ApiCall call("Vcpu::set_port_io_handler");
    return backend_->set_port_io_handler(std::move(handler));
}

}  // namespace guestmem
