// SPDX-License-Identifier: BSD-2-Clause
// <sel4vm/arch/guest_arm_context.h>: an AArch64 vCPU's registers as an
// seL4_UserContext and its EL1 system registers by seL4_VCPUReg number, over
// Vcpu::registers and Vcpu::system_state.
#include <array>
#include <cstdint>
#include <string>

#include "guestmem/registers.hpp"
#include "guestmem/system_state.hpp"
#include "guestmem/vcpu.hpp"
#include "sel4vm/arch/guest_arm_context.h"
#include "vcpu_context.hpp"

using namespace guestmem;
using capi::StillVcpu;

namespace {

/// Where a word of seL4_UserContext lives in Arm64Registers.
enum class Where { pc, sp, pstate, x, not_held };

struct UserSlot {
    seL4_Word seL4_UserContext::*member;
    const char* name;
    Where where;
    unsigned x = 0;  // for Where::x
};

// seL4_UserContext's words in seL4's order: index i is word i.
const std::array kSlots = std::to_array<UserSlot>({
    {&seL4_UserContext::pc, "pc", Where::pc},
    {&seL4_UserContext::sp, "sp", Where::sp},
    {&seL4_UserContext::spsr, "spsr", Where::pstate},
    {&seL4_UserContext::x0, "x0", Where::x, 0},
    {&seL4_UserContext::x1, "x1", Where::x, 1},
    {&seL4_UserContext::x2, "x2", Where::x, 2},
    {&seL4_UserContext::x3, "x3", Where::x, 3},
    {&seL4_UserContext::x4, "x4", Where::x, 4},
    {&seL4_UserContext::x5, "x5", Where::x, 5},
    {&seL4_UserContext::x6, "x6", Where::x, 6},
    {&seL4_UserContext::x7, "x7", Where::x, 7},
    {&seL4_UserContext::x8, "x8", Where::x, 8},
    {&seL4_UserContext::x16, "x16", Where::x, 16},
    {&seL4_UserContext::x17, "x17", Where::x, 17},
    {&seL4_UserContext::x18, "x18", Where::x, 18},
    {&seL4_UserContext::x29, "x29", Where::x, 29},
    {&seL4_UserContext::x30, "x30", Where::x, 30},
    {&seL4_UserContext::x9, "x9", Where::x, 9},
    {&seL4_UserContext::x10, "x10", Where::x, 10},
    {&seL4_UserContext::x11, "x11", Where::x, 11},
    {&seL4_UserContext::x12, "x12", Where::x, 12},
    {&seL4_UserContext::x13, "x13", Where::x, 13},
    {&seL4_UserContext::x14, "x14", Where::x, 14},
    {&seL4_UserContext::x15, "x15", Where::x, 15},
    {&seL4_UserContext::x19, "x19", Where::x, 19},
    {&seL4_UserContext::x20, "x20", Where::x, 20},
    {&seL4_UserContext::x21, "x21", Where::x, 21},
    {&seL4_UserContext::x22, "x22", Where::x, 22},
    {&seL4_UserContext::x23, "x23", Where::x, 23},
    {&seL4_UserContext::x24, "x24", Where::x, 24},
    {&seL4_UserContext::x25, "x25", Where::x, 25},
    {&seL4_UserContext::x26, "x26", Where::x, 26},
    {&seL4_UserContext::x27, "x27", Where::x, 27},
    {&seL4_UserContext::x28, "x28", Where::x, 28},
    {&seL4_UserContext::tpidr_el0, "tpidr_el0", Where::not_held},
    {&seL4_UserContext::tpidrro_el0, "tpidrro_el0", Where::not_held},
});
static_assert(sizeof(seL4_UserContext) == kSlots.size() * sizeof(seL4_Word));

std::uint64_t& word_of(Arm64Registers& regs, const UserSlot& slot) {
    switch (slot.where) {
    case Where::pc: return regs.pc;
    case Where::sp: return regs.sp;
    case Where::pstate: return regs.pstate;
    case Where::x:
    case Where::not_held: break;
    }
    return regs.x.at(slot.x);
}

/// The vCPU of an AArch64 context call, or null (logged).
capi::VcpuHandle* arm_vcpu(vm_vcpu_t* vcpu) { return capi::context_vcpu(vcpu, Arch::aarch64); }

/// The slot of register index `reg`, if guestmem holds it; null (logged) otherwise.
const UserSlot* held_slot(unsigned int reg) {
    if (reg >= kSlots.size()) {
        (void)fail(Errc::invalid_argument,
                   "register index " + std::to_string(reg) + " is past seL4_UserContext (0 pc to 35 tpidrro_el0)");
        return nullptr;
    }
    const UserSlot& slot = kSlots[reg];
    if (slot.where == Where::not_held) {
        (void)fail(Errc::unsupported, "register index " + std::to_string(reg) + " (" + slot.name +
                                          ") is not part of guestmem's vCPU state");
        return nullptr;
    }
    return &slot;
}

Result<Arm64Registers> arm_registers(const Vcpu& vcpu) {
    auto regs = vcpu.registers();
    if (!regs) return regs.error();
    return std::get<Arm64Registers>(*regs);  // the vCPU is of AArch64 (checked)
}

Result<Arm64SystemState> arm_system_state(const Vcpu& vcpu) {
    auto state = vcpu.system_state();
    if (!state) return state.error();
    return std::get<Arm64SystemState>(*state);
}

// seL4_VCPUReg's names, by number.
constexpr std::array<const char*, seL4_VCPUReg_Num> kVcpuRegNames{
    "SCTLR",      "TTBR0",  "TTBR1",   "TCR",      "MAIR",     "AMAIR",     "CIDR",    "ACTLR",
    "CPACR",      "AFSR0",  "AFSR1",   "ESR",      "FAR",      "ISR",       "VBAR",    "TPIDR_EL1",
    "VMPIDR_EL2", "SP_EL1", "ELR_EL1", "SPSR_EL1", "CNTV_CTL", "CNTV_CVAL", "CNTVOFF", "CNTKCTL_EL1",
};

/// The system register seL4_VCPUReg `reg` names, if guestmem holds it; null (logged) otherwise.
std::uint64_t Arm64SystemState::*held_vcpu_reg(seL4_Word reg) {
    switch (reg) {
    case seL4_VCPUReg_SCTLR: return &Arm64SystemState::sctlr_el1;
    case seL4_VCPUReg_VBAR: return &Arm64SystemState::vbar_el1;
    case seL4_VCPUReg_TPIDR_EL1: return &Arm64SystemState::tpidr_el1;
    default: break;
    }
    if (reg >= kVcpuRegNames.size()) {
        (void)fail(Errc::invalid_argument, "register " + std::to_string(reg) + " is not an seL4_VCPUReg (0 to " +
                                               std::to_string(kVcpuRegNames.size() - 1) + ")");
    } else {
        (void)fail(Errc::unsupported, std::string("seL4_VCPUReg_") + kVcpuRegNames[reg] + " (" + std::to_string(reg) +
                                          ") is not part of guestmem's vCPU state: it holds seL4_VCPUReg_SCTLR, "
                                          "seL4_VCPUReg_VBAR and seL4_VCPUReg_TPIDR_EL1");
    }
    return nullptr;
}

}  // namespace

extern "C" {

int vm_arm_set_thread_context(vm_vcpu_t* vcpu, seL4_UserContext context) {
    ApiCall call(__func__);
    capi::VcpuHandle* handle = arm_vcpu(vcpu);
    if (!handle) return -1;
    for (const UserSlot& slot : kSlots) {
        if (slot.where == Where::not_held && context.*slot.member != 0) {
            (void)fail(Errc::unsupported, std::string(slot.name) +
                                              " is not part of guestmem's vCPU state: it must be 0 (as "
                                              "vm_get_thread_context gives it)");
            return -1;
        }
    }
    StillVcpu still(*handle, StillVcpu::Use::write);
    if (!still) return -1;
    auto regs = arm_registers(*handle->core);
    if (!regs) return -1;
    for (const UserSlot& slot : kSlots) {
        if (slot.where != Where::not_held) word_of(*regs, slot) = context.*slot.member;
    }
    return handle->core->set_registers(*regs) ? 0 : -1;
}

int vm_arm_set_thread_context_reg(vm_vcpu_t* vcpu, unsigned int reg, uintptr_t value) {
    ApiCall call(__func__);
    capi::VcpuHandle* handle = arm_vcpu(vcpu);
    if (!handle) return -1;
    const UserSlot* slot = held_slot(reg);
    if (!slot) return -1;
    StillVcpu still(*handle, StillVcpu::Use::write);
    if (!still) return -1;
    auto regs = arm_registers(*handle->core);
    if (!regs) return -1;
    word_of(*regs, *slot) = value;
    return handle->core->set_registers(*regs) ? 0 : -1;
}

int vm_arm_get_thread_context(vm_vcpu_t* vcpu, seL4_UserContext* context) {
    ApiCall call(__func__);
    capi::VcpuHandle* handle = arm_vcpu(vcpu);
    if (!handle || !capi::present(context, "context")) return -1;
    StillVcpu still(*handle, StillVcpu::Use::read);
    if (!still) return -1;
    auto regs = arm_registers(*handle->core);
    if (!regs) return -1;
    for (const UserSlot& slot : kSlots) {
        (*context).*slot.member = slot.where == Where::not_held ? 0 : word_of(*regs, slot);
    }
    return 0;
}

int vm_arm_get_thread_context_reg(vm_vcpu_t* vcpu, unsigned int reg, uintptr_t* value) {
    ApiCall call(__func__);
    capi::VcpuHandle* handle = arm_vcpu(vcpu);
    if (!handle || !capi::present(value, "value")) return -1;
    const UserSlot* slot = held_slot(reg);
    if (!slot) return -1;
    StillVcpu still(*handle, StillVcpu::Use::read);
    if (!still) return -1;
    auto regs = arm_registers(*handle->core);
    if (!regs) return -1;
    *value = static_cast<uintptr_t>(word_of(*regs, *slot));
    return 0;
}

int vm_set_arm_vcpu_reg(vm_vcpu_t* vcpu, seL4_Word reg, uintptr_t value) {
    ApiCall call(__func__);
    capi::VcpuHandle* handle = arm_vcpu(vcpu);
    if (!handle) return -1;
    auto member = held_vcpu_reg(reg);
    if (!member) return -1;
    StillVcpu still(*handle, StillVcpu::Use::write);
    if (!still) return -1;
    auto state = arm_system_state(*handle->core);
    if (!state) return -1;
    (*state).*member = value;
    return handle->core->set_system_state(*state) ? 0 : -1;
}

int vm_get_arm_vcpu_reg(vm_vcpu_t* vcpu, seL4_Word reg, uintptr_t* value) {
    ApiCall call(__func__);
    capi::VcpuHandle* handle = arm_vcpu(vcpu);
    if (!handle || !capi::present(value, "value")) return -1;
    auto member = held_vcpu_reg(reg);
    if (!member) return -1;
    StillVcpu still(*handle, StillVcpu::Use::read);
    if (!still) return -1;
    auto state = arm_system_state(*handle->core);
    if (!state) return -1;
    *value = static_cast<uintptr_t>((*state).*member);
    return 0;
}

}  // extern "C"
