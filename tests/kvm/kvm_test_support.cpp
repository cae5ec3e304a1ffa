#include "kvm_test_support.hpp"

#include <cstring>
#include <span>

namespace guestmem::test {

std::uint64_t load_program(Vm& vm, const char* path, GuestAddr at) {
    auto loaded = kvm::load_image_file(vm, at, path);
    EXPECT_TRUE(loaded) << (loaded ? "" : loaded.error().message);
    return loaded ? *loaded : 0;
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

std::unique_ptr<GuestVm> GuestVm::create(std::shared_ptr<CapabilitySpace> caps, const kvm::BackendOptions& options,
                                         std::uint64_t ram_size) {
    auto self = std::make_unique<GuestVm>();
    self->caps_ = caps ? std::move(caps) : std::make_shared<CapabilitySpace>();
    auto backend = kvm::create_backend(options);
    EXPECT_TRUE(backend) << (backend ? "" : backend.error().message);
    if (!backend) return nullptr;
    self->vm_ = std::make_unique<Vm>(std::move(*backend), self->caps_);
    Vm& vm = *self->vm_;
    EXPECT_TRUE(vm.init_memory());
    auto ram = vm.reserve_at(kRamBase, ram_size, [](Fault&) { return FaultResult::error; });
    EXPECT_TRUE(ram);
    if (!ram) return nullptr;
    self->ram_ = *ram;
    const std::vector<Cap> frames = allocate_frames(*self->caps_, ram_size / kPageSize);
    auto mapped = vm.map_frames(*ram, frames, kPageBits);
    EXPECT_TRUE(mapped) << (mapped ? "" : mapped.error().message);
    if (!mapped) return nullptr;
    auto tables = kvm::write_boot_tables(vm, kTables);
    EXPECT_TRUE(tables) << (tables ? "" : tables.error().message);
    if (!tables) return nullptr;
    self->tables_ = *tables;
    return self;
}

Vcpu& GuestVm::add_vcpu(kvm::GuestArgs args, std::uint64_t entry_offset) {
    auto vcpu = vm_->create_vcpu();
    EXPECT_TRUE(vcpu) << (vcpu ? "" : vcpu.error().message);
    reset(**vcpu, args, entry_offset);
    return **vcpu;
}

void GuestVm::reset(Vcpu& vcpu, kvm::GuestArgs args, std::uint64_t entry_offset) {
    kvm::LongModeSetup setup;
    setup.entry = kImage + entry_offset;
    setup.stack = kStackTop - vcpu.index() * kPageSize;
    setup.tables = tables_;
    setup.args = args;
    auto ok = kvm::setup_long_mode(vcpu, setup);
    EXPECT_TRUE(ok) << (ok ? "" : ok.error().message);
}

kvm::RunResult GuestVm::run(Vcpu& vcpu) {
    auto result = kvm::run(vcpu);
    EXPECT_TRUE(result) << (result ? "" : result.error().message);
    return result ? std::move(*result) : kvm::RunResult{kvm::StopReason::unexpected_exit, {}, {}, 0, "run failed", {}};
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
