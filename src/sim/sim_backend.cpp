// SPDX-License-Identifier: BSD-2-Clause
#include <sstream>
#include <string>
#include <utility>

#include "guestmem/sim.hpp"
#include "guestmem/vm.hpp"

#include "fault_dispatcher.hpp"

namespace guestmem::sim {

namespace {

Registers reset_registers(Arch arch) {
    if (arch == Arch::aarch64) return Arm64Registers{};
    return X86Registers{};
}

SystemState reset_system_state(Arch arch) {
    if (arch == Arch::aarch64) return Arm64SystemState{};
    return X86SystemState{};
}

/// A sim vCPU is a register file of its VM's architecture; the core does the
/// rest. No guest code runs, so the registers change only when set, and the
/// instruction pointer also when an access completes (advance()).
class SimVcpu final : public VcpuBackend {
public:
    explicit SimVcpu(Arch arch) : arch_(arch), registers_(reset_registers(arch)), system_(reset_system_state(arch)) {}

    GuestAddr instruction_pointer() override { return instruction_pointer_of(registers_); }
    void set_instruction_pointer(GuestAddr ip) {
        std::visit([ip](auto& r) { ip_of(r) = ip; }, registers_);
    }
    void advance() { set_instruction_pointer(instruction_pointer() + kInstructionBytes); }

    Result<RunResult> run() override {
        return fail(Errc::unsupported,
                    "the sim backend runs no guest code: perform guest accesses with sim::read and sim::write");
    }
    Result<Registers> registers() override { return registers_; }
    Result<void> set_registers(const Registers& registers) override {
        if (registers.index() != registers_.index()) {
            return fail(Errc::invalid_argument, "registers of another architecture than the vCPU's");
        }
        registers_ = registers;
        return {};
    }
    Result<SystemState> system_state() override { return system_; }
    Result<void> set_system_state(const SystemState& state) override {
        if (state.index() != system_.index()) {
            return fail(Errc::invalid_argument, "system state of another architecture than the vCPU's");
        }
        system_ = state;
        return {};
    }
    // NOLINTNEXTLINE(performance-unnecessary-value-param): the override's signature
    Result<void> set_port_io_handler(PortIoHandler handler) override {
        if (arch_ != Arch::x86_64) return fail(Errc::unsupported, "AArch64 has no port I/O");
        port_io_ = std::move(handler);
        return {};
    }
    const PortIoHandler& port_io_handler() const { return port_io_; }
    Arch arch() const { return arch_; }

private:
    static std::uint64_t& ip_of(X86Registers& r) { return r.rip; }
    static std::uint64_t& ip_of(Arm64Registers& r) { return r.pc; }

    Arch arch_;
    Registers registers_;
    SystemState system_;
    PortIoHandler port_io_;
};

/// Mapped memory needs no hypervisor: the core reads and writes the frames.
class SimBackend final : public Backend {
public:
    explicit SimBackend(Arch arch) : arch_(arch) {}
    BackendKind kind() const override { return BackendKind::sim; }
    Arch arch() const override { return arch_; }
    Result<void> install(std::span<const MappedRun>) override { return {}; }
    void uninstall(std::span<const MappedRun>) noexcept override {}
    Result<std::unique_ptr<VcpuBackend>> create_vcpu(Vcpu&) override {
        return std::unique_ptr<VcpuBackend>(std::make_unique<SimVcpu>(arch_));
    }
    // No hypervisor to bypass: doorbell rings and posted writes are delivered
    // synchronously by the core's fault dispatch, on the accessing thread.
    Result<std::unique_ptr<FastPath>> add_doorbell(const DoorbellSpec&, DoorbellRing) override {
        return std::unique_ptr<FastPath>();
    }
    Result<std::unique_ptr<FastPath>> add_write_posting(Range) override { return std::unique_ptr<FastPath>(); }
    // Every guest write goes through Vm::dispatch, which records it: nothing to log here.
    Result<void> start_dirty_log() override { return {}; }
    // The test plays the guest: take_interrupt and end_of_interrupt below.
    Result<void> supports_interrupts() const override { return {}; }

private:
    Arch arch_;
};

// Only SimBackend makes vCPUs of sim VMs, so the kind check makes the cast safe.
Result<SimVcpu*> sim_vcpu(const Vcpu& vcpu) {
    if (vcpu.vm().backend().kind() != BackendKind::sim) {
        return fail(Errc::unsupported, "the vCPU's VM is not on the sim backend");
    }
    return static_cast<SimVcpu*>(&vcpu.backend());
}

Result<std::uint64_t> perform(Vcpu& vcpu, GuestAddr addr, std::size_t size, bool is_write, std::uint64_t value) {
    // The access's one size check. One instruction's access: the core also
    // takes the odd-sized fragments a hypervisor makes, but an instruction
    // accesses 1, 2, 4 or 8 bytes.
    if (size != 1 && size != 2 && size != 4 && size != 8) {
        return fail(Errc::invalid_argument, "access size " + std::to_string(size) + " is not 1, 2, 4 or 8 bytes");
    }
    auto sim = sim_vcpu(vcpu);
    if (!sim) return sim.error();
    Access access{addr, static_cast<std::uint8_t>(size), is_write, value};
    if (AccessOutcome outcome = FaultDispatcher::of(vcpu.vm()).perform(vcpu, access); !outcome) {
        return fail(Errc::fault_error, describe(*outcome.failure));
    }
    (*sim)->advance();
    return access.data;
}

}  // namespace

std::unique_ptr<Backend> create_backend(Arch arch) { return std::make_unique<SimBackend>(arch); }

Result<std::uint64_t> read(Vcpu& vcpu, GuestAddr addr, std::size_t size) {
    ApiCall call("sim::read");
    return perform(vcpu, addr, size, /*is_write=*/false, 0);
}

Result<void> write(Vcpu& vcpu, GuestAddr addr, std::size_t size, std::uint64_t value) {
    ApiCall call("sim::write");
    auto done = perform(vcpu, addr, size, /*is_write=*/true, value);
    if (!done) return done.error();
    return {};
}

namespace {

/// The VM's interrupt lines, for a vCPU of a sim VM.
Result<InterruptController*> sim_interrupts(const Vcpu& vcpu) {
    if (auto sim = sim_vcpu(vcpu); !sim) return sim.error();
    InterruptController* irqs = vcpu.vm().irq_controller();
    if (!irqs) return fail(Errc::not_initialized, "the VM has no interrupt controller (create_default_irq_controller)");
    return irqs;
}

}  // namespace

Result<IrqNumber> take_interrupt(Vcpu& vcpu) {
    ApiCall call("sim::take_interrupt");
    auto irqs = sim_interrupts(vcpu);
    if (!irqs) return irqs.error();
    // Between next_pending and take a device may lower the line: then take
    // refuses, and the guest would have found nothing either.
    auto irq = (*irqs)->next_pending(vcpu);
    if (!irq) return fail(Errc::invalid_argument, "no interrupt is pending for vCPU " + std::to_string(vcpu.index()));
    if (auto ok = (*irqs)->take(vcpu, *irq); !ok) return ok.error();
    return *irq;
}

Result<void> end_of_interrupt(Vcpu& vcpu, IrqNumber irq) {
    ApiCall call("sim::end_of_interrupt");
    auto irqs = sim_interrupts(vcpu);
    if (!irqs) return irqs.error();
    return (*irqs)->end(vcpu, irq);
}

Result<void> port_access(Vcpu& vcpu, PortAccess& access) {
    ApiCall call("sim::port_access");
    if (access.size != 1 && access.size != 2 && access.size != 4) {
        return fail(Errc::invalid_argument,
                    "port access size " + std::to_string(access.size) + " is not 1, 2 or 4 bytes");
    }
    auto sim = sim_vcpu(vcpu);
    if (!sim) return sim.error();
    if ((*sim)->arch() != Arch::x86_64) return fail(Errc::unsupported, "AArch64 has no port I/O");
    std::ostringstream what;
    what << (access.is_write ? "OUT" : "IN") << " of " << unsigned{access.size} << " bytes at port 0x" << std::hex
         << access.port;
    const PortIoHandler& handler = (*sim)->port_io_handler();
    if (!handler) return fail(Errc::fault_error, what.str() + ": the vCPU has no port I/O handler");
    const std::uint32_t mask = access.size == 4 ? ~std::uint32_t{0} : (std::uint32_t{1} << (8 * access.size)) - 1;
    access.data = access.is_write ? access.data & mask : 0;
    PortResult decided;
    {
        ApiCall::UserCode user_code;
        decided = handler(access);
    }
    switch (decided) {
    case PortResult::handled:
        if (!access.is_write) access.data &= mask;
        break;
    case PortResult::ignore:
        if (!access.is_write) access.data = 0;
        break;
    case PortResult::error: return fail(Errc::fault_error, what.str() + ": the port I/O handler failed the access");
    }
    (*sim)->advance();
    return {};
}

Result<GuestAddr> instruction_pointer(const Vcpu& vcpu) {
    auto sim = sim_vcpu(vcpu);
    if (!sim) return sim.error();
    return (*sim)->instruction_pointer();
}

Result<void> set_instruction_pointer(Vcpu& vcpu, GuestAddr ip) {
    auto sim = sim_vcpu(vcpu);
    if (!sim) return sim.error();
    (*sim)->set_instruction_pointer(ip);
    return {};
}

}  // namespace guestmem::sim
