// SPDX-License-Identifier: BSD-2-Clause
#include "cpu_state.hpp"

#include <array>
#include <cstddef>

namespace guestmem::emu {

namespace {

constexpr std::array<int, 18> kX86Registers = {
    UC_X86_REG_RAX, UC_X86_REG_RBX, UC_X86_REG_RCX, UC_X86_REG_RDX, UC_X86_REG_RSI, UC_X86_REG_RDI,
    UC_X86_REG_RSP, UC_X86_REG_RBP, UC_X86_REG_R8,  UC_X86_REG_R9,  UC_X86_REG_R10, UC_X86_REG_R11,
    UC_X86_REG_R12, UC_X86_REG_R13, UC_X86_REG_R14, UC_X86_REG_R15, UC_X86_REG_RIP, UC_X86_REG_RFLAGS,
};

// The X86Registers fields in kX86Registers' order.
std::array<std::uint64_t*, 18> fields(X86Registers& r) {
    return {&r.rax, &r.rbx, &r.rcx, &r.rdx, &r.rsi, &r.rdi, &r.rsp, &r.rbp, &r.r8,
            &r.r9,  &r.r10, &r.r11, &r.r12, &r.r13, &r.r14, &r.r15, &r.rip, &r.rflags};
}

int arm64_x(std::size_t i) {
    if (i == 29) return UC_ARM64_REG_X29;
    if (i == 30) return UC_ARM64_REG_X30;
    return UC_ARM64_REG_X0 + static_cast<int>(i);
}

Result<void> check(uc_err err, const char* what) {
    if (err != UC_ERR_OK) return fail(Errc::backend_error, describe(what, err));
    return {};
}

uc_arm64_cp_reg cp_reg(std::uint32_t op0, std::uint32_t op1, std::uint32_t crn, std::uint32_t crm, std::uint32_t op2) {
    uc_arm64_cp_reg reg{};
    reg.op0 = op0;
    reg.op1 = op1;
    reg.crn = crn;
    reg.crm = crm;
    reg.op2 = op2;
    return reg;
}

uc_arm64_cp_reg sctlr_el1() { return cp_reg(3, 0, 1, 0, 0); }
uc_arm64_cp_reg vbar_el1() { return cp_reg(3, 0, 12, 0, 0); }
uc_arm64_cp_reg tpidr_el1() { return cp_reg(3, 0, 13, 0, 4); }

Result<std::uint64_t> read_cp(uc_engine* uc, uc_arm64_cp_reg reg, const char* what) {
    if (auto ok = check(uc_reg_read(uc, UC_ARM64_REG_CP_REG, &reg), what); !ok) return ok.error();
    return reg.val;
}

Result<void> write_cp(uc_engine* uc, uc_arm64_cp_reg reg, std::uint64_t value, const char* what) {
    reg.val = value;
    return check(uc_reg_write(uc, UC_ARM64_REG_CP_REG, &reg), what);
}

}  // namespace

Result<Registers> read_registers(uc_engine* uc, Arch arch) {
    if (arch == Arch::x86_64) {
        X86Registers r;
        auto out = fields(r);
        for (std::size_t i = 0; i < kX86Registers.size(); ++i) {
            if (auto ok = check(uc_reg_read(uc, kX86Registers[i], out[i]), "cannot read an x86 register"); !ok) {
                return ok.error();
            }
        }
        return Registers{r};
    }
    Arm64Registers r;
    for (std::size_t i = 0; i < r.x.size(); ++i) {
        if (auto ok = check(uc_reg_read(uc, arm64_x(i), &r.x[i]), "cannot read an AArch64 register"); !ok) {
            return ok.error();
        }
    }
    const std::pair<int, std::uint64_t*> rest[] = {
        {UC_ARM64_REG_SP, &r.sp}, {UC_ARM64_REG_PC, &r.pc}, {UC_ARM64_REG_PSTATE, &r.pstate}};
    for (auto [id, value] : rest) {
        if (auto ok = check(uc_reg_read(uc, id, value), "cannot read an AArch64 register"); !ok) return ok.error();
    }
    return Registers{r};
}

Result<void> write_registers(uc_engine* uc, const Registers& registers) {
    if (auto* x86 = std::get_if<X86Registers>(&registers)) {
        X86Registers r = *x86;
        auto in = fields(r);
        for (std::size_t i = 0; i < kX86Registers.size(); ++i) {
            if (auto ok = check(uc_reg_write(uc, kX86Registers[i], in[i]), "cannot write an x86 register"); !ok) {
                return ok;
            }
        }
        return {};
    }
    Arm64Registers r = std::get<Arm64Registers>(registers);
    // PSTATE first: it selects which stack pointer SP names.
    if (auto ok = check(uc_reg_write(uc, UC_ARM64_REG_PSTATE, &r.pstate), "cannot write PSTATE"); !ok) return ok;
    for (std::size_t i = 0; i < r.x.size(); ++i) {
        if (auto ok = check(uc_reg_write(uc, arm64_x(i), &r.x[i]), "cannot write an AArch64 register"); !ok) {
            return ok;
        }
    }
    if (auto ok = check(uc_reg_write(uc, UC_ARM64_REG_SP, &r.sp), "cannot write SP"); !ok) return ok;
    return check(uc_reg_write(uc, UC_ARM64_REG_PC, &r.pc), "cannot write PC");
}

GuestAddr read_pc(uc_engine* uc, Arch arch) {
    std::uint64_t pc = 0;
    uc_reg_read(uc, arch == Arch::aarch64 ? static_cast<int>(UC_ARM64_REG_PC) : static_cast<int>(UC_X86_REG_RIP), &pc);
    return pc;
}

void write_pc(uc_engine* uc, Arch arch, GuestAddr pc) {
    uc_reg_write(uc, arch == Arch::aarch64 ? static_cast<int>(UC_ARM64_REG_PC) : static_cast<int>(UC_X86_REG_RIP), &pc);
}

Result<Arm64SystemState> read_arm64_system_state(uc_engine* uc) {
    Arm64SystemState state;
    auto sctlr = read_cp(uc, sctlr_el1(), "cannot read SCTLR_EL1");
    if (!sctlr) return sctlr.error();
    auto vbar = read_cp(uc, vbar_el1(), "cannot read VBAR_EL1");
    if (!vbar) return vbar.error();
    auto tpidr = read_cp(uc, tpidr_el1(), "cannot read TPIDR_EL1");
    if (!tpidr) return tpidr.error();
    state.sctlr_el1 = *sctlr;
    state.vbar_el1 = *vbar;
    state.tpidr_el1 = *tpidr;
    return state;
}

Result<void> write_arm64_system_state(uc_engine* uc, const Arm64SystemState& state) {
    if ((state.sctlr_el1 & 1) != 0) {
        return fail(Errc::unsupported, "the emulator backend runs AArch64 guests with the MMU off (SCTLR_EL1.M = 0)");
    }
    if (auto ok = write_cp(uc, sctlr_el1(), state.sctlr_el1, "cannot write SCTLR_EL1"); !ok) return ok;
    if (auto ok = write_cp(uc, vbar_el1(), state.vbar_el1, "cannot write VBAR_EL1"); !ok) return ok;
    return write_cp(uc, tpidr_el1(), state.tpidr_el1, "cannot write TPIDR_EL1");
}

Result<void> check_x86_long_mode(const X86SystemState& state) {
    constexpr std::uint64_t cr0_pe = 1, efer_lme = 1u << 8, efer_lma = 1u << 10;
    const bool long_mode = (state.cr0 & cr0_pe) != 0 && (state.efer & (efer_lme | efer_lma)) != 0 && state.cs.present &&
                           state.cs.l;
    if (!long_mode) {
        return fail(Errc::unsupported,
                    "the emulator backend runs x86 guests in 64-bit long mode only (CR0.PE, EFER.LME and a 64-bit "
                    "code segment); real and protected mode are not supported");
    }
    return {};
}

}  // namespace guestmem::emu
