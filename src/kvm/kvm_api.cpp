// The public functions of guestmem/kvm.hpp: checks and glue to the classes here.
#include <cerrno>
#include <cstring>
#include <fstream>
#include <iterator>
#include <vector>

#include "guest_setup.hpp"
#include "guestmem/guest_memory.hpp"
#include "guestmem/kvm.hpp"
#include "guestmem/vcpu.hpp"
#include "guestmem/vm.hpp"
#include "kick_signal.hpp"
#include "kvm_backend.hpp"
#include "kvm_vcpu.hpp"
#include "run_loop.hpp"

namespace guestmem::kvm {

namespace {

Result<KvmVcpu*> kvm_vcpu(Vcpu& vcpu) {
    auto* kvm = dynamic_cast<KvmVcpu*>(&vcpu.backend());
    if (!kvm) return fail(Errc::unsupported, "the vCPU does not belong to a KVM VM");
    return kvm;
}

kvm_regs to_kvm(const Registers& r) {
    kvm_regs k{};
    k.rax = r.rax, k.rbx = r.rbx, k.rcx = r.rcx, k.rdx = r.rdx, k.rsi = r.rsi, k.rdi = r.rdi;
    k.rsp = r.rsp, k.rbp = r.rbp, k.r8 = r.r8, k.r9 = r.r9, k.r10 = r.r10, k.r11 = r.r11;
    k.r12 = r.r12, k.r13 = r.r13, k.r14 = r.r14, k.r15 = r.r15, k.rip = r.rip, k.rflags = r.rflags;
    return k;
}

Registers from_kvm(const kvm_regs& k) {
    Registers r;
    r.rax = k.rax, r.rbx = k.rbx, r.rcx = k.rcx, r.rdx = k.rdx, r.rsi = k.rsi, r.rdi = k.rdi;
    r.rsp = k.rsp, r.rbp = k.rbp, r.r8 = k.r8, r.r9 = k.r9, r.r10 = k.r10, r.r11 = k.r11;
    r.r12 = k.r12, r.r13 = k.r13, r.r14 = k.r14, r.r15 = k.r15, r.rip = k.rip, r.rflags = k.rflags;
    return r;
}

Result<void> setup(KvmVcpu& vcpu, auto apply_sregs, const kvm_regs& regs) {
    auto sregs = vcpu.get_sregs();
    if (!sregs) return sregs.error();
    apply_sregs(*sregs);
    if (auto set = vcpu.set_sregs(*sregs); !set) return set;
    return vcpu.set_regs(regs);
}

}  // namespace

bool available() { return kvm_device_present(); }

Result<std::unique_ptr<Backend>> create_backend() { return create_backend(BackendOptions{}); }

Result<std::unique_ptr<Backend>> create_backend(const BackendOptions& options) {
    ApiCall call("kvm::create_backend");
    auto backend = KvmBackend::create(options);
    if (!backend) return backend.error();
    return std::unique_ptr<Backend>(std::move(*backend));
}

Result<MemslotUsage> memslot_usage(const Backend& backend) {
    ApiCall call("kvm::memslot_usage");
    const auto* kvm = dynamic_cast<const KvmBackend*>(&backend);
    if (!kvm) return fail(Errc::unsupported, "the backend is not a KVM backend");
    const SlotUsage usage = kvm->slot_usage();
    return MemslotUsage{usage.in_use, usage.limit};
}

Result<Registers> get_registers(Vcpu& vcpu) {
    ApiCall call("kvm::get_registers");
    auto kvm = kvm_vcpu(vcpu);
    if (!kvm) return kvm.error();
    auto regs = (*kvm)->get_regs();
    if (!regs) return regs.error();
    return from_kvm(*regs);
}

Result<void> set_registers(Vcpu& vcpu, const Registers& registers) {
    ApiCall call("kvm::set_registers");
    auto kvm = kvm_vcpu(vcpu);
    if (!kvm) return kvm.error();
    return (*kvm)->set_regs(to_kvm(registers));
}

Result<void> setup_real_mode(Vcpu& vcpu, const RealModeSetup& s) {
    ApiCall call("kvm::setup_real_mode");
    auto kvm = kvm_vcpu(vcpu);
    if (!kvm) return kvm.error();
    if (s.entry >= (GuestAddr{1} << 20) || (s.entry & 0xf) != 0) {
        return fail(Errc::invalid_argument, "real-mode entry must be 16-byte aligned and below 1 MiB");
    }
    const auto segment = static_cast<std::uint16_t>(s.entry >> 4);
    return setup(**kvm, [&](kvm_sregs& sregs) { apply_real_mode(sregs, segment); },
                 initial_registers(0, s.stack_pointer, s.args));
}

Result<BootTables> write_boot_tables(Vm& vm, GuestAddr base, std::uint64_t identity_bytes) {
    ApiCall call("kvm::write_boot_tables");
    if (auto ok = check_boot_tables(base, identity_bytes); !ok) return ok.error();
    const BootTables layout = boot_tables_layout(base, identity_bytes);
    const std::vector<std::byte> bytes = build_boot_tables(layout);
    // WriteRights::guest: tables in read-only memory would fault when the CPU sets accessed bits.
    if (auto written = write_guest(vm, base, bytes, WriteRights::guest); !written) return written.error();
    return layout;
}

Result<void> setup_long_mode(Vcpu& vcpu, const LongModeSetup& s) {
    ApiCall call("kvm::setup_long_mode");
    auto kvm = kvm_vcpu(vcpu);
    if (!kvm) return kvm.error();
    if (s.tables.pml4 == 0 || s.tables.identity_mapped == 0) {
        return fail(Errc::invalid_argument, "long mode needs boot tables from kvm::write_boot_tables");
    }
    return setup(**kvm, [&](kvm_sregs& sregs) { apply_long_mode(sregs, s.tables); },
                 initial_registers(s.entry, s.stack, s.args));
}

Result<void> set_port_io_handler(Vcpu& vcpu, PortIoHandler handler) {
    ApiCall call("kvm::set_port_io_handler");
    auto kvm = kvm_vcpu(vcpu);
    if (!kvm) return kvm.error();
    (*kvm)->port_handler() = std::move(handler);
    return {};
}

std::string_view to_string(StopReason reason) {
    switch (reason) {
    case StopReason::halted: return "halted";
    case StopReason::fault_error: return "fault_error";
    case StopReason::port_io_error: return "port_io_error";
    case StopReason::stopped: return "stopped";
    case StopReason::shutdown: return "shutdown";
    case StopReason::internal_error: return "internal_error";
    case StopReason::entry_failed: return "entry_failed";
    case StopReason::unexpected_exit: return "unexpected_exit";
    }
    return "unknown";
}

Result<RunResult> run(Vcpu& vcpu) {
    ApiCall call("kvm::run");
    auto kvm = kvm_vcpu(vcpu);
    if (!kvm) return kvm.error();
    return run_vcpu(**kvm);
}

Result<void> request_stop(Vcpu& vcpu) {
    ApiCall call("kvm::request_stop");
    auto kvm = kvm_vcpu(vcpu);
    if (!kvm) return kvm.error();
    (*kvm)->request_stop();
    return {};
}

int kick_signal() { return kick_signal_number(); }

Result<void> load_image(Vm& vm, GuestAddr addr, std::span<const std::byte> image) {
    ApiCall call("kvm::load_image");
    return write_guest(vm, addr, image, WriteRights::vmm);
}

Result<std::uint64_t> load_image_file(Vm& vm, GuestAddr addr, const std::string& path) {
    ApiCall call("kvm::load_image_file");
    std::ifstream file(path, std::ios::binary);
    if (!file) return fail(Errc::invalid_argument, "cannot open guest image " + path + ": " + std::strerror(errno));
    std::vector<char> chars((std::istreambuf_iterator<char>(file)), std::istreambuf_iterator<char>());
    if (file.bad()) return fail(Errc::invalid_argument, "cannot read guest image " + path);
    const auto* data = reinterpret_cast<const std::byte*>(chars.data());
    if (auto loaded = write_guest(vm, addr, {data, chars.size()}, WriteRights::vmm); !loaded) return loaded.error();
    return std::uint64_t{chars.size()};
}

}  // namespace guestmem::kvm
