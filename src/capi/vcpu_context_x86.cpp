// SPDX-License-Identifier: BSD-2-Clause
// <sel4vm/arch/guest_x86_context.h>: an x86-64 vCPU's general registers as
// an seL4_VCPUContext, and its state under VMCS field encodings, over
// Vcpu::registers and Vcpu::system_state.
#include <array>
#include <cstdint>
#include <sstream>
#include <string>

#include "guestmem/registers.hpp"
#include "guestmem/system_state.hpp"
#include "guestmem/vcpu.hpp"
#include "sel4vm/arch/guest_x86_context.h"
#include "sel4vm/arch/vmcs_fields.h"
#include "vcpu_context.hpp"

using namespace guestmem;
using capi::StillVcpu;

namespace {

/// seL4_VCPUContext's words (vcpu_context_reg_t order) and the registers they hold.
struct ContextSlot {
    seL4_Word seL4_VCPUContext::*context;
    std::uint64_t X86Registers::*reg;
};
constexpr std::array<ContextSlot, 15> kSlots{{
    {&seL4_VCPUContext::eax, &X86Registers::rax},
    {&seL4_VCPUContext::ebx, &X86Registers::rbx},
    {&seL4_VCPUContext::ecx, &X86Registers::rcx},
    {&seL4_VCPUContext::edx, &X86Registers::rdx},
    {&seL4_VCPUContext::esi, &X86Registers::rsi},
    {&seL4_VCPUContext::edi, &X86Registers::rdi},
    {&seL4_VCPUContext::ebp, &X86Registers::rbp},
    {&seL4_VCPUContext::r8, &X86Registers::r8},
    {&seL4_VCPUContext::r9, &X86Registers::r9},
    {&seL4_VCPUContext::r10, &X86Registers::r10},
    {&seL4_VCPUContext::r11, &X86Registers::r11},
    {&seL4_VCPUContext::r12, &X86Registers::r12},
    {&seL4_VCPUContext::r13, &X86Registers::r13},
    {&seL4_VCPUContext::r14, &X86Registers::r14},
    {&seL4_VCPUContext::r15, &X86Registers::r15},
}};
static_assert(sizeof(seL4_VCPUContext) == kSlots.size() * sizeof(seL4_Word));
static_assert(VCPU_CONTEXT_R15 == kSlots.size() - 1);

/// The vCPU of an x86-64 context call, or null (logged).
capi::VcpuHandle* x86_vcpu(vm_vcpu_t* vcpu) { return capi::context_vcpu(vcpu, Arch::x86_64); }

/// The index of `reg` in kSlots, or -1 (logged).
int slot_of(vcpu_context_reg_t reg) {
    const auto index = static_cast<long long>(reg);
    if (index < 0 || index >= static_cast<long long>(kSlots.size())) {
        (void)fail(Errc::invalid_argument,
                   "register " + std::to_string(index) +
                       " is not a vcpu_context_reg_t (VCPU_CONTEXT_EAX 0 to VCPU_CONTEXT_R15 14)");
        return -1;
    }
    return static_cast<int>(index);
}

Result<X86Registers> x86_registers(const Vcpu& vcpu) {
    auto regs = vcpu.registers();
    if (!regs) return regs.error();
    return std::get<X86Registers>(*regs);  // the vCPU is of x86-64 (checked)
}

Result<X86SystemState> x86_system_state(const Vcpu& vcpu) {
    auto state = vcpu.system_state();
    if (!state) return state.error();
    return std::get<X86SystemState>(*state);
}

// VMCS fields.

enum class Kind {
    rip,
    rsp,
    rflags,
    cr0,
    cr3,
    cr4,
    efer,
    selector,
    base,
    limit,
    rights,
    table_base,
    table_limit,
    absent
};

struct Field {
    seL4_Word encoding;
    const char* name;
    Kind kind;
    X86Segment X86SystemState::*segment = nullptr;
    X86Table X86SystemState::*table = nullptr;
};

// Every field of <sel4vm/arch/vmcs_fields.h>: those guestmem holds with
// where, the others for the log line that refuses them.
const std::array kFields = std::to_array<Field>({
    {VMX_GUEST_RIP, "VMX_GUEST_RIP", Kind::rip},
    {VMX_GUEST_RSP, "VMX_GUEST_RSP", Kind::rsp},
    {VMX_GUEST_RFLAGS, "VMX_GUEST_RFLAGS", Kind::rflags},
    {VMX_GUEST_CR0, "VMX_GUEST_CR0", Kind::cr0},
    {VMX_GUEST_CR3, "VMX_GUEST_CR3", Kind::cr3},
    {VMX_GUEST_CR4, "VMX_GUEST_CR4", Kind::cr4},
    {VMX_GUEST_EFER, "VMX_GUEST_EFER", Kind::efer},
    {VMX_GUEST_ES_SELECTOR, "VMX_GUEST_ES_SELECTOR", Kind::selector, &X86SystemState::es},
    {VMX_GUEST_CS_SELECTOR, "VMX_GUEST_CS_SELECTOR", Kind::selector, &X86SystemState::cs},
    {VMX_GUEST_SS_SELECTOR, "VMX_GUEST_SS_SELECTOR", Kind::selector, &X86SystemState::ss},
    {VMX_GUEST_DS_SELECTOR, "VMX_GUEST_DS_SELECTOR", Kind::selector, &X86SystemState::ds},
    {VMX_GUEST_FS_SELECTOR, "VMX_GUEST_FS_SELECTOR", Kind::selector, &X86SystemState::fs},
    {VMX_GUEST_GS_SELECTOR, "VMX_GUEST_GS_SELECTOR", Kind::selector, &X86SystemState::gs},
    {VMX_GUEST_LDTR_SELECTOR, "VMX_GUEST_LDTR_SELECTOR", Kind::selector, &X86SystemState::ldt},
    {VMX_GUEST_TR_SELECTOR, "VMX_GUEST_TR_SELECTOR", Kind::selector, &X86SystemState::tr},
    {VMX_GUEST_ES_BASE, "VMX_GUEST_ES_BASE", Kind::base, &X86SystemState::es},
    {VMX_GUEST_CS_BASE, "VMX_GUEST_CS_BASE", Kind::base, &X86SystemState::cs},
    {VMX_GUEST_SS_BASE, "VMX_GUEST_SS_BASE", Kind::base, &X86SystemState::ss},
    {VMX_GUEST_DS_BASE, "VMX_GUEST_DS_BASE", Kind::base, &X86SystemState::ds},
    {VMX_GUEST_FS_BASE, "VMX_GUEST_FS_BASE", Kind::base, &X86SystemState::fs},
    {VMX_GUEST_GS_BASE, "VMX_GUEST_GS_BASE", Kind::base, &X86SystemState::gs},
    {VMX_GUEST_LDTR_BASE, "VMX_GUEST_LDTR_BASE", Kind::base, &X86SystemState::ldt},
    {VMX_GUEST_TR_BASE, "VMX_GUEST_TR_BASE", Kind::base, &X86SystemState::tr},
    {VMX_GUEST_ES_LIMIT, "VMX_GUEST_ES_LIMIT", Kind::limit, &X86SystemState::es},
    {VMX_GUEST_CS_LIMIT, "VMX_GUEST_CS_LIMIT", Kind::limit, &X86SystemState::cs},
    {VMX_GUEST_SS_LIMIT, "VMX_GUEST_SS_LIMIT", Kind::limit, &X86SystemState::ss},
    {VMX_GUEST_DS_LIMIT, "VMX_GUEST_DS_LIMIT", Kind::limit, &X86SystemState::ds},
    {VMX_GUEST_FS_LIMIT, "VMX_GUEST_FS_LIMIT", Kind::limit, &X86SystemState::fs},
    {VMX_GUEST_GS_LIMIT, "VMX_GUEST_GS_LIMIT", Kind::limit, &X86SystemState::gs},
    {VMX_GUEST_LDTR_LIMIT, "VMX_GUEST_LDTR_LIMIT", Kind::limit, &X86SystemState::ldt},
    {VMX_GUEST_TR_LIMIT, "VMX_GUEST_TR_LIMIT", Kind::limit, &X86SystemState::tr},
    {VMX_GUEST_ES_ACCESS_RIGHTS, "VMX_GUEST_ES_ACCESS_RIGHTS", Kind::rights, &X86SystemState::es},
    {VMX_GUEST_CS_ACCESS_RIGHTS, "VMX_GUEST_CS_ACCESS_RIGHTS", Kind::rights, &X86SystemState::cs},
    {VMX_GUEST_SS_ACCESS_RIGHTS, "VMX_GUEST_SS_ACCESS_RIGHTS", Kind::rights, &X86SystemState::ss},
    {VMX_GUEST_DS_ACCESS_RIGHTS, "VMX_GUEST_DS_ACCESS_RIGHTS", Kind::rights, &X86SystemState::ds},
    {VMX_GUEST_FS_ACCESS_RIGHTS, "VMX_GUEST_FS_ACCESS_RIGHTS", Kind::rights, &X86SystemState::fs},
    {VMX_GUEST_GS_ACCESS_RIGHTS, "VMX_GUEST_GS_ACCESS_RIGHTS", Kind::rights, &X86SystemState::gs},
    {VMX_GUEST_LDTR_ACCESS_RIGHTS, "VMX_GUEST_LDTR_ACCESS_RIGHTS", Kind::rights, &X86SystemState::ldt},
    {VMX_GUEST_TR_ACCESS_RIGHTS, "VMX_GUEST_TR_ACCESS_RIGHTS", Kind::rights, &X86SystemState::tr},
    {VMX_GUEST_GDTR_BASE, "VMX_GUEST_GDTR_BASE", Kind::table_base, nullptr, &X86SystemState::gdt},
    {VMX_GUEST_IDTR_BASE, "VMX_GUEST_IDTR_BASE", Kind::table_base, nullptr, &X86SystemState::idt},
    {VMX_GUEST_GDTR_LIMIT, "VMX_GUEST_GDTR_LIMIT", Kind::table_limit, nullptr, &X86SystemState::gdt},
    {VMX_GUEST_IDTR_LIMIT, "VMX_GUEST_IDTR_LIMIT", Kind::table_limit, nullptr, &X86SystemState::idt},
    // Known, not held.
    {VMX_GUEST_DEBUGCTRL, "VMX_GUEST_DEBUGCTRL", Kind::absent},
    {VMX_GUEST_PAT, "VMX_GUEST_PAT", Kind::absent},
    {VMX_GUEST_PERF_GLOBAL_CTRL, "VMX_GUEST_PERF_GLOBAL_CTRL", Kind::absent},
    {VMX_GUEST_INTERRUPTABILITY, "VMX_GUEST_INTERRUPTABILITY", Kind::absent},
    {VMX_GUEST_ACTIVITY, "VMX_GUEST_ACTIVITY", Kind::absent},
    {VMX_GUEST_SMBASE, "VMX_GUEST_SMBASE", Kind::absent},
    {VMX_GUEST_SYSENTER_CS, "VMX_GUEST_SYSENTER_CS", Kind::absent},
    {VMX_GUEST_VMX_PREEMPTION_TIMER_VALUE, "VMX_GUEST_VMX_PREEMPTION_TIMER_VALUE", Kind::absent},
    {VMX_GUEST_DR7, "VMX_GUEST_DR7", Kind::absent},
    {VMX_GUEST_PENDING_DEBUG_EXCEPTIONS, "VMX_GUEST_PENDING_DEBUG_EXCEPTIONS", Kind::absent},
    {VMX_GUEST_SYSENTER_ESP, "VMX_GUEST_SYSENTER_ESP", Kind::absent},
    {VMX_GUEST_SYSENTER_EIP, "VMX_GUEST_SYSENTER_EIP", Kind::absent},
    {VMX_DATA_INSTRUCTION_ERROR, "VMX_DATA_INSTRUCTION_ERROR", Kind::absent},
    {VMX_DATA_EXIT_REASON, "VMX_DATA_EXIT_REASON", Kind::absent},
    {VMX_DATA_EXIT_INTERRUPT_INFO, "VMX_DATA_EXIT_INTERRUPT_INFO", Kind::absent},
    {VMX_DATA_EXIT_INTERRUPT_ERROR, "VMX_DATA_EXIT_INTERRUPT_ERROR", Kind::absent},
    {VMX_DATA_IDT_VECTOR_INFO, "VMX_DATA_IDT_VECTOR_INFO", Kind::absent},
    {VMX_DATA_IDT_VECTOR_ERROR, "VMX_DATA_IDT_VECTOR_ERROR", Kind::absent},
    {VMX_DATA_EXIT_INSTRUCTION_LENGTH, "VMX_DATA_EXIT_INSTRUCTION_LENGTH", Kind::absent},
    {VMX_DATA_EXIT_INSTRUCTION_INFO, "VMX_DATA_EXIT_INSTRUCTION_INFO", Kind::absent},
    {VMX_DATA_GUEST_PHYSICAL, "VMX_DATA_GUEST_PHYSICAL", Kind::absent},
    {VMX_DATA_EXIT_QUALIFICATION, "VMX_DATA_EXIT_QUALIFICATION", Kind::absent},
    {VMX_DATA_IO_RCX, "VMX_DATA_IO_RCX", Kind::absent},
    {VMX_DATA_IO_RSI, "VMX_DATA_IO_RSI", Kind::absent},
    {VMX_DATA_IO_RDI, "VMX_DATA_IO_RDI", Kind::absent},
    {VMX_DATA_IO_RIP, "VMX_DATA_IO_RIP", Kind::absent},
    {VMX_DATA_GUEST_LINEAR_ADDRESS, "VMX_DATA_GUEST_LINEAR_ADDRESS", Kind::absent},
    {VMX_CONTROL_PIN_EXECUTION_CONTROLS, "VMX_CONTROL_PIN_EXECUTION_CONTROLS", Kind::absent},
    {VMX_CONTROL_PRIMARY_PROCESSOR_CONTROLS, "VMX_CONTROL_PRIMARY_PROCESSOR_CONTROLS", Kind::absent},
    {VMX_CONTROL_EXCEPTION_BITMAP, "VMX_CONTROL_EXCEPTION_BITMAP", Kind::absent},
    {VMX_CONTROL_EXIT_CONTROLS, "VMX_CONTROL_EXIT_CONTROLS", Kind::absent},
    {VMX_CONTROL_ENTRY_INTERRUPTION_INFO, "VMX_CONTROL_ENTRY_INTERRUPTION_INFO", Kind::absent},
    {VMX_CONTROL_ENTRY_EXCEPTION_ERROR_CODE, "VMX_CONTROL_ENTRY_EXCEPTION_ERROR_CODE", Kind::absent},
    {VMX_CONTROL_SECONDARY_PROCESSOR_CONTROLS, "VMX_CONTROL_SECONDARY_PROCESSOR_CONTROLS", Kind::absent},
    {VMX_CONTROL_CR0_MASK, "VMX_CONTROL_CR0_MASK", Kind::absent},
    {VMX_CONTROL_CR4_MASK, "VMX_CONTROL_CR4_MASK", Kind::absent},
    {VMX_CONTROL_CR0_READ_SHADOW, "VMX_CONTROL_CR0_READ_SHADOW", Kind::absent},
    {VMX_CONTROL_CR4_READ_SHADOW, "VMX_CONTROL_CR4_READ_SHADOW", Kind::absent},
});

std::string hex(std::uint64_t value) {
    std::ostringstream out;
    out << "0x" << std::hex << value;
    return out.str();
}

/// The field guestmem holds under `encoding`; null (logged, naming it) otherwise.
const Field* held_field(seL4_Word encoding) {
    for (const Field& field : kFields) {
        if (field.encoding != encoding) continue;
        if (field.kind != Kind::absent) return &field;
        (void)fail(Errc::unsupported,
                   std::string(field.name) + " (" + hex(encoding) +
                       ") is not held by guestmem: its backends have no VMCS; the guest-state fields of RIP, RSP, "
                       "RFLAGS, CR0, CR3, CR4, EFER, the segments, GDTR and IDTR are");
        return nullptr;
    }
    (void)fail(Errc::invalid_argument, "field " + hex(encoding) + " is not a VMCS field encoding guestmem knows");
    return nullptr;
}

bool is_register(Kind kind) { return kind == Kind::rip || kind == Kind::rsp || kind == Kind::rflags; }

// Segment access rights in the VMX layout (Intel SDM vol. 3, 24.4.1).
constexpr std::uint64_t kRightsType = 0xf;
constexpr std::uint64_t kRightsS = 1u << 4;
constexpr unsigned kRightsDplShift = 5;
constexpr std::uint64_t kRightsP = 1u << 7;
constexpr std::uint64_t kRightsL = 1u << 13;
constexpr std::uint64_t kRightsDb = 1u << 14;
constexpr std::uint64_t kRightsG = 1u << 15;
constexpr std::uint64_t kRightsUnusable = 1u << 16;
constexpr std::uint64_t kRightsHeld = kRightsType | kRightsS | (3u << kRightsDplShift) | kRightsP | kRightsL |
                                      kRightsDb | kRightsG | kRightsUnusable;

std::uint64_t rights_of(const X86Segment& s) {
    return (s.type & kRightsType) | (s.s ? kRightsS : 0) | (std::uint64_t{s.dpl & 3u} << kRightsDplShift) |
           (s.present ? kRightsP : kRightsUnusable) | (s.l ? kRightsL : 0) | (s.db ? kRightsDb : 0) |
           (s.g ? kRightsG : 0);
}

void set_rights(X86Segment& s, std::uint64_t rights) {
    s.type = static_cast<std::uint8_t>(rights & kRightsType);
    s.s = (rights & kRightsS) != 0;
    s.dpl = static_cast<std::uint8_t>((rights >> kRightsDplShift) & 3u);
    s.present = (rights & kRightsP) != 0 && (rights & kRightsUnusable) == 0;
    s.l = (rights & kRightsL) != 0;
    s.db = (rights & kRightsDb) != 0;
    s.g = (rights & kRightsG) != 0;
}

std::uint64_t read_field(const Field& field, const X86Registers& regs, const X86SystemState& state) {
    switch (field.kind) {
    case Kind::rip: return regs.rip;
    case Kind::rsp: return regs.rsp;
    case Kind::rflags: return regs.rflags;
    case Kind::cr0: return state.cr0;
    case Kind::cr3: return state.cr3;
    case Kind::cr4: return state.cr4;
    case Kind::efer: return state.efer;
    case Kind::selector: return (state.*field.segment).selector;
    case Kind::base: return (state.*field.segment).base;
    case Kind::limit: return (state.*field.segment).limit;
    case Kind::rights: return rights_of(state.*field.segment);
    case Kind::table_base: return (state.*field.table).base;
    case Kind::table_limit: return (state.*field.table).limit;
    case Kind::absent: break;
    }
    return 0;
}

/// The widest value the field takes (its VMCS width, or what guestmem holds).
std::uint64_t field_max(Kind kind) {
    switch (kind) {
    case Kind::selector:
    case Kind::table_limit: return 0xffff;
    case Kind::limit: return 0xffffffff;
    case Kind::rights: return kRightsHeld;
    default: return ~std::uint64_t{0};
    }
}

void write_field(const Field& field, std::uint64_t value, X86Registers& regs, X86SystemState& state) {
    switch (field.kind) {
    case Kind::rip: regs.rip = value; break;
    case Kind::rsp: regs.rsp = value; break;
    case Kind::rflags: regs.rflags = value; break;
    case Kind::cr0: state.cr0 = value; break;
    case Kind::cr3: state.cr3 = value; break;
    case Kind::cr4: state.cr4 = value; break;
    case Kind::efer: state.efer = value; break;
    case Kind::selector: (state.*field.segment).selector = static_cast<std::uint16_t>(value); break;
    case Kind::base: (state.*field.segment).base = value; break;
    case Kind::limit: (state.*field.segment).limit = static_cast<std::uint32_t>(value); break;
    case Kind::rights: set_rights(state.*field.segment, value); break;
    case Kind::table_base: (state.*field.table).base = value; break;
    case Kind::table_limit: (state.*field.table).limit = static_cast<std::uint16_t>(value); break;
    case Kind::absent: break;
    }
}

}  // namespace

extern "C" {

int vm_x86_set_thread_context(vm_vcpu_t* vcpu, seL4_VCPUContext context) {
    ApiCall call(__func__);
    capi::VcpuHandle* handle = x86_vcpu(vcpu);
    if (!handle) return -1;
    StillVcpu still(*handle, StillVcpu::Use::write);
    if (!still) return -1;
    auto regs = x86_registers(*handle->core);
    if (!regs) return -1;
    for (const ContextSlot& slot : kSlots) (*regs).*slot.reg = context.*slot.context;
    return handle->core->set_registers(*regs) ? 0 : -1;
}

int vm_x86_set_thread_context_reg(vm_vcpu_t* vcpu, vcpu_context_reg_t reg, seL4_Word value) {
    ApiCall call(__func__);
    capi::VcpuHandle* handle = x86_vcpu(vcpu);
    if (!handle) return -1;
    const int slot = slot_of(reg);
    if (slot < 0) return -1;
    StillVcpu still(*handle, StillVcpu::Use::write);
    if (!still) return -1;
    auto regs = x86_registers(*handle->core);
    if (!regs) return -1;
    (*regs).*kSlots[static_cast<std::size_t>(slot)].reg = value;
    return handle->core->set_registers(*regs) ? 0 : -1;
}

int vm_x86_get_thread_context(vm_vcpu_t* vcpu, seL4_VCPUContext* context) {
    ApiCall call(__func__);
    capi::VcpuHandle* handle = x86_vcpu(vcpu);
    if (!handle || !capi::present(context, "context")) return -1;
    StillVcpu still(*handle, StillVcpu::Use::read);
    if (!still) return -1;
    auto regs = x86_registers(*handle->core);
    if (!regs) return -1;
    for (const ContextSlot& slot : kSlots) (*context).*slot.context = (*regs).*slot.reg;
    return 0;
}

int vm_x86_get_thread_context_reg(vm_vcpu_t* vcpu, vcpu_context_reg_t reg, seL4_Word* value) {
    ApiCall call(__func__);
    capi::VcpuHandle* handle = x86_vcpu(vcpu);
    if (!handle || !capi::present(value, "value")) return -1;
    const int slot = slot_of(reg);
    if (slot < 0) return -1;
    StillVcpu still(*handle, StillVcpu::Use::read);
    if (!still) return -1;
    auto regs = x86_registers(*handle->core);
    if (!regs) return -1;
    *value = (*regs).*kSlots[static_cast<std::size_t>(slot)].reg;
    return 0;
}

int vm_set_vmcs_field(vm_vcpu_t* vcpu, seL4_Word field, seL4_Word value) {
    ApiCall call(__func__);
    capi::VcpuHandle* handle = x86_vcpu(vcpu);
    if (!handle) return -1;
    const Field* held = held_field(field);
    if (!held) return -1;
    if (value > field_max(held->kind) || (held->kind == Kind::rights && (value & ~kRightsHeld) != 0)) {
        (void)fail(Errc::invalid_argument,
                   hex(value) + " does not fit " + held->name +
                       (held->kind == Kind::rights ? " (guestmem holds type, S, DPL, P, L, D/B, G and unusable; AVL "
                                                     "and the reserved bits must be 0)"
                                                   : " (at most " + hex(field_max(held->kind)) + ")"));
        return -1;
    }
    StillVcpu still(*handle, StillVcpu::Use::write);
    if (!still) return -1;
    Vcpu& core = *handle->core;
    auto regs = x86_registers(core);
    if (!regs) return -1;
    auto state = x86_system_state(core);
    if (!state) return -1;
    write_field(*held, value, *regs, *state);
    if (is_register(held->kind)) return core.set_registers(*regs) ? 0 : -1;
    return core.set_system_state(*state) ? 0 : -1;
}

int vm_get_vmcs_field(vm_vcpu_t* vcpu, seL4_Word field, seL4_Word* value) {
    ApiCall call(__func__);
    capi::VcpuHandle* handle = x86_vcpu(vcpu);
    if (!handle || !capi::present(value, "value")) return -1;
    const Field* held = held_field(field);
    if (!held) return -1;
    StillVcpu still(*handle, StillVcpu::Use::read);
    if (!still) return -1;
    auto regs = x86_registers(*handle->core);
    if (!regs) return -1;
    auto state = x86_system_state(*handle->core);
    if (!state) return -1;
    *value = read_field(*held, *regs, *state);
    return 0;
}

}  // extern "C"
