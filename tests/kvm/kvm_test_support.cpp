// SPDX-License-Identifier: BSD-2-Clause
#include "kvm_test_support.hpp"

#include <cstring>
#include <span>

#include "guestmem/backend_registry.hpp"
#include "guestmem/boot.hpp"

namespace guestmem::test {

std::vector<BackendKind> guest_backends() {
    return {
        BackendKind::kvm,
        BackendKind::emu,
    };
}

std::optional<std::string> backend_unavailable(BackendKind kind) {
    // describe_backends probes without logging: "kvm: available" or "kvm: unavailable (why)".
    const std::string name(to_string(kind));
    for (const std::string& line : describe_backends(Arch::x86_64)) {
        if (line.rfind(name + ": ", 0) != 0) continue;
        if (line == name + ": available") return std::nullopt;
        return line;
    }
    return name + ": unknown to the backend registry";
}

std::string backend_param_name(const ::testing::TestParamInfo<BackendKind>& info) {
    return std::string(to_string(info.param));
}

std::uint64_t load_program(Vm& vm, const char* path, GuestAddr at) {
    auto loaded = load_image_file(vm, at, path);
    EXPECT_TRUE(loaded) << (loaded ? "" : loaded.error().message);
    return loaded ? *loaded : 0;
}

X86Registers x86_registers(Vcpu& vcpu) {
    auto regs = vcpu.registers();
    EXPECT_TRUE(regs) << (regs ? "" : regs.error().message);
    if (!regs || !std::holds_alternative<X86Registers>(*regs)) {
        ADD_FAILURE() << "no x86-64 registers";
        return {};
    }
    return std::get<X86Registers>(*regs);
}

std::vector<Cap> allocate_frames(CapabilitySpace& caps, std::size_t count, FrameSize size) {
    std::vector<Cap> frames;
    for (std::size_t i = 0; i < count; ++i) {
        auto cap = caps.allocate_frame(size);
        EXPECT_TRUE(cap);
        if (!cap) break;
        frames.push_back(*cap);
    }
    return frames;
}

std::unique_ptr<GuestVm> GuestVm::create(BackendKind backend, std::shared_ptr<CapabilitySpace> caps,
                                         std::uint64_t ram_size) {
    // Through the registry, as users create VMs.
    auto vm = Vm::create(backend, caps ? caps : std::make_shared<CapabilitySpace>(), Arch::x86_64);
    EXPECT_TRUE(vm) << (vm ? "" : vm.error().message);
    if (!vm) return nullptr;
    auto self = std::make_unique<GuestVm>();
    self->caps_ = (*vm)->shared_capabilities();
    self->vm_ = std::move(*vm);
    return self->add_ram(ram_size) ? std::move(self) : nullptr;
}

std::unique_ptr<GuestVm> GuestVm::create_kvm(const kvm::BackendOptions& options, std::shared_ptr<CapabilitySpace> caps,
                                             std::uint64_t ram_size) {
    auto backend = kvm::create_backend(options);
    EXPECT_TRUE(backend) << (backend ? "" : backend.error().message);
    if (!backend) return nullptr;
    auto self = std::make_unique<GuestVm>();
    self->caps_ = caps ? std::move(caps) : std::make_shared<CapabilitySpace>();
    self->vm_ = std::make_unique<Vm>(std::move(*backend), self->caps_);
    return self->add_ram(ram_size) ? std::move(self) : nullptr;
}

bool GuestVm::add_ram(std::uint64_t ram_size) {
    Vm& vm = *vm_;
    EXPECT_TRUE(vm.init_memory());
    auto ram = vm.reserve_at(kRamBase, ram_size, [](Fault&) { return FaultResult::error; });
    EXPECT_TRUE(ram);
    if (!ram) return false;
    ram_ = *ram;
    const std::vector<Cap> frames = allocate_frames(*caps_, ram_size / kPageSize);
    auto mapped = vm.map_frames(*ram, frames, kPageBits);
    EXPECT_TRUE(mapped) << (mapped ? "" : mapped.error().message);
    return static_cast<bool>(mapped);
}

Vcpu& GuestVm::add_vcpu(GuestArgs args, std::uint64_t entry_offset) {
    auto vcpu = vm_->create_vcpu();
    EXPECT_TRUE(vcpu) << (vcpu ? "" : vcpu.error().message);
    reset(**vcpu, args, entry_offset);
    return **vcpu;
}

void GuestVm::reset(Vcpu& vcpu, GuestArgs args, std::uint64_t entry_offset) {
    BootSpec spec;
    spec.entry = kImage + entry_offset;
    spec.stack = kStackTop - vcpu.index() * kPageSize;
    spec.args = args;
    spec.x86_tables = kTables;
    auto ok = vcpu.boot(spec);
    EXPECT_TRUE(ok) << (ok ? "" : ok.error().message);
}

RunResult GuestVm::run(Vcpu& vcpu) {
    auto result = vcpu.run();
    EXPECT_TRUE(result) << (result ? "" : result.error().message);
    if (result) return std::move(*result);
    RunResult failed;
    failed.reason = StopReason::unexpected_exit;
    failed.message = "run failed";
    return failed;
}

void write_script(Vm& vm, GuestAddr at, const std::vector<ScriptOp>& ops) {
    std::vector<ScriptOp> all = ops;
    all.push_back(ScriptOp{});
    auto ok = write_guest(vm, at, std::as_bytes(std::span(all)));
    EXPECT_TRUE(ok) << (ok ? "" : ok.error().message);
}

std::vector<ScriptOp> read_script(Vm& vm, GuestAddr at, std::size_t count) {
    std::vector<ScriptOp> ops(count);
    auto ok = read_guest(vm, at, std::as_writable_bytes(std::span(ops)));
    EXPECT_TRUE(ok) << (ok ? "" : ok.error().message);
    return ops;
}

FaultHandler RegisterFile::handler() {
    return [this](Fault& fault) { return on_fault(fault); };
}

FaultResult RegisterFile::on_fault(Fault& fault) {
    std::lock_guard lock(mutex_);
    const GuestAddr offset = fault.address() - base_;
    const std::size_t size = fault.size();
    seen_.push_back({offset, size, fault.is_write(), fault.data(), fault.data_mask()});
    if (offset + size <= sizeof scratch_) {
        if (fault.is_write()) {
            const std::uint64_t value = fault.data();
            std::memcpy(scratch_ + offset, &value, size);  // little-endian lanes, as the guest
        } else {
            std::uint64_t value = 0;
            std::memcpy(&value, scratch_ + offset, size);
            fault.set_data(value);
        }
        return FaultResult::handled;
    }
    if (offset == kIdReg && size == 4) {
        if (fault.is_write()) return FaultResult::ignore;
        fault.set_data(kId);
        return FaultResult::handled;
    }
    if (offset == kCounterReg && size == 8 && fault.is_read()) {
        fault.set_data(++counter_);
        return FaultResult::handled;
    }
    // The counter also reads as two 4-byte halves, low first, as on a 32-bit
    // bus: the emulator backend delivers an 8-byte access that way (see
    // guestmem/emu.hpp). The low half counts and latches the high half.
    if (offset == kCounterReg && size == 4 && fault.is_read()) {
        latched_counter_ = ++counter_;
        fault.set_data(latched_counter_ & 0xffffffff);
        return FaultResult::handled;
    }
    if (offset == kCounterReg + 4 && size == 4 && fault.is_read()) {
        fault.set_data(latched_counter_ >> 32);
        return FaultResult::handled;
    }
    if (offset == kDoorbellReg) {
        if (fault.is_read()) return FaultResult::ignore;
        doorbells_.push_back(fault.data());
        fault.advance();  // libsel4vm style; the library advances once either way
        return FaultResult::handled;
    }
    return FaultResult::error;
}

std::vector<SeenAccess> RegisterFile::seen() const {
    std::lock_guard lock(mutex_);
    return seen_;
}

std::vector<std::uint64_t> RegisterFile::doorbells() const {
    std::lock_guard lock(mutex_);
    return doorbells_;
}

std::size_t RegisterFile::accesses() const {
    std::lock_guard lock(mutex_);
    return seen_.size();
}

}  // namespace guestmem::test
