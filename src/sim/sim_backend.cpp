#include <string>

#include "guestmem/sim.hpp"
#include "guestmem/vm.hpp"

namespace guestmem::sim {

namespace {

/// A sim vCPU holds only its instruction pointer; the core does the rest.
class SimVcpu final : public VcpuBackend {
public:
    GuestAddr instruction_pointer() override { return ip_; }
    void set(GuestAddr ip) { ip_ = ip; }
    void advance() { ip_ += kInstructionBytes; }

private:
    GuestAddr ip_ = 0;
};

/// Mapped memory needs no hypervisor: the core reads and writes the frames.
class SimBackend final : public Backend {
public:
    BackendKind kind() const override { return BackendKind::sim; }
    Result<void> install(std::span<const MappedRun>) override { return {}; }
    void uninstall(std::span<const MappedRun>) noexcept override {}
    Result<std::unique_ptr<VcpuBackend>> create_vcpu(Vcpu&) override {
        return std::unique_ptr<VcpuBackend>(std::make_unique<SimVcpu>());
    }
    // No hypervisor to bypass: doorbell rings and posted writes are delivered
    // synchronously by the core's fault dispatch, on the accessing thread.
    Result<std::unique_ptr<FastPath>> add_doorbell(const DoorbellSpec&, DoorbellRing) override {
        return std::unique_ptr<FastPath>();
    }
    Result<std::unique_ptr<FastPath>> add_write_posting(Range) override { return std::unique_ptr<FastPath>(); }
};

Result<SimVcpu*> sim_vcpu(const Vcpu& vcpu) {
    auto* sim = dynamic_cast<SimVcpu*>(&vcpu.backend());
    if (!sim) return fail(Errc::unsupported, "the vCPU's VM is not on the sim backend");
    return sim;
}

Result<std::uint64_t> perform(Vcpu& vcpu, Access access) {
    auto sim = sim_vcpu(vcpu);
    if (!sim) return sim.error();
    // One instruction's access: the core also takes the odd-sized fragments
    // a hypervisor makes, but an instruction accesses 1, 2, 4 or 8 bytes.
    if (access.size != 1 && access.size != 2 && access.size != 4 && access.size != 8) {
        return fail(Errc::invalid_argument, "access size is not 1, 2, 4 or 8 bytes");
    }
    if (vcpu.vm().dispatch(vcpu, access) != AccessOutcome::completed) {
        const FaultReport& report = *vcpu.last_error();
        return Error{Errc::fault_error, std::string(ApiCall::current()) + ": " + report.reason};
    }
    (*sim)->advance();
    return access.data;
}

}  // namespace

std::unique_ptr<Backend> create_backend() { return std::make_unique<SimBackend>(); }

Result<std::uint64_t> read(Vcpu& vcpu, GuestAddr addr, std::size_t size) {
    ApiCall call("sim::read");
    return perform(vcpu, Access{addr, static_cast<std::uint8_t>(size <= 8 ? size : 0), false, 0});
}

Result<void> write(Vcpu& vcpu, GuestAddr addr, std::size_t size, std::uint64_t value) {
    ApiCall call("sim::write");
    auto done = perform(vcpu, Access{addr, static_cast<std::uint8_t>(size <= 8 ? size : 0), true, value});
    if (!done) return done.error();
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
    (*sim)->set(ip);
    return {};
}

}  // namespace guestmem::sim
