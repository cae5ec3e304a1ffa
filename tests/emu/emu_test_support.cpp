// SPDX-License-Identifier: BSD-2-Clause
#include "emu_test_support.hpp"

#include <fstream>
#include <iterator>

#include "guestmem/guest_memory.hpp"

namespace guestmem::emu::test {

std::vector<std::byte> guest_image(Arch arch, const std::string& name) {
    std::ifstream file(std::string(GUESTMEM_EMU_GUEST_DIR) + "/" + std::string(to_string(arch)) + "/" + name + ".bin",
                       std::ios::binary);
    if (!file) return {};
    std::vector<char> bytes((std::istreambuf_iterator<char>(file)), std::istreambuf_iterator<char>());
    std::vector<std::byte> out(bytes.size());
    for (std::size_t i = 0; i < bytes.size(); ++i) out[i] = static_cast<std::byte>(bytes[i]);
    return out;
}

EmuVm::EmuVm(Arch a, Options options) : arch(a), caps(std::make_shared<CapabilitySpace>()) {
    auto backend = create_backend(arch, options);
    if (!backend) throw std::runtime_error("no emulator backend: " + backend.error().message);
    vm = std::make_unique<Vm>(std::move(*backend), caps);
    if (!vm->init_memory()) throw std::runtime_error("init_memory failed");
    auto cpu = vm->create_vcpu();
    if (!cpu) throw std::runtime_error("create_vcpu failed");
    vcpu = *cpu;
    auto ram = add_ram(0, kRamSize, Rights::read_write);
    if (!ram) throw std::runtime_error("cannot map RAM: " + ram.error().message);
}

Result<ReservationId> EmuVm::add_ram(GuestAddr addr, std::uint64_t size, Rights rights, FaultHandler handler) {
    auto id = vm->reserve_at(addr, size, handler ? std::move(handler) : ignoring());
    if (!id) return id.error();
    auto iterator = [this, rights](GuestAddr at) {
        auto cap = caps->allocate_frame(FrameSize::k4KiB);
        return FrameRequest{cap ? *cap : kNullCap, rights, at, 12};
    };
    if (auto ok = vm->map(*id, iterator); !ok) return ok.error();
    return *id;
}

bool EmuVm::load(const std::string& name) {
    auto image = guest_image(arch, name);
    if (image.empty()) return false;
    return static_cast<bool>(write_guest(*vm, kCode, image));
}

void EmuVm::start(Vcpu& cpu, GuestAddr entry, std::array<std::uint64_t, 3> args) {
    if (arch == Arch::x86_64) {
        X86SystemState state;
        state.cr0 = 0x80000011;  // PE, ET, PG: what a long-mode boot sets
        state.cr4 = 0x20;        // PAE
        state.efer = 0x500;      // LME, LMA
        state.cs = X86Segment{0, 0xffffffff, 0x8, 0xb, true, 0, false, true, true, true};
        ASSERT_TRUE(cpu.set_system_state(state));
        X86Registers r;
        r.rip = entry;
        r.rsp = kStack;
        r.rdi = args[0];
        r.rsi = args[1];
        r.rdx = args[2];
        ASSERT_TRUE(cpu.set_registers(r));
        return;
    }
    ASSERT_TRUE(cpu.set_system_state(Arm64SystemState{}));
    Arm64Registers r;
    r.pc = entry;
    r.sp = kStack;
    r.x[0] = args[0];
    r.x[1] = args[1];
    r.x[2] = args[2];
    ASSERT_TRUE(cpu.set_registers(r));
}

std::uint64_t EmuVm::result(Vcpu& cpu) {
    auto regs = cpu.registers();
    if (!regs) return ~std::uint64_t{0};
    if (auto* x86 = std::get_if<X86Registers>(&*regs)) return x86->rax;
    return std::get<Arm64Registers>(*regs).x[3];
}

FaultHandler ignoring() {
    return [](Fault&) { return FaultResult::ignore; };
}

std::string arch_name(const ::testing::TestParamInfo<Arch>& info) { return std::string(to_string(info.param)); }

}  // namespace guestmem::emu::test
