// SPDX-License-Identifier: BSD-2-Clause
/// @file
/// Architecture state beyond the general registers: what puts a vCPU in a mode.
#pragma once

#include <cstdint>
#include <variant>

namespace guestmem {

/// An x86 segment register, hidden part included (Intel SDM vol. 3A, 3.4.3).
struct X86Segment {
    std::uint64_t base = 0;      ///< base address
    std::uint32_t limit = 0;     ///< limit, in bytes (granularity already applied)
    std::uint16_t selector = 0;  ///< selector
    std::uint8_t type = 0;       ///< descriptor type field
    bool present = false;        ///< P
    std::uint8_t dpl = 0;        ///< DPL
    bool db = false;             ///< D/B
    bool s = false;              ///< S: code or data (not system)
    bool l = false;              ///< L: 64-bit code
    bool g = false;              ///< G: 4 KiB granularity
    /// Field by field.
    friend bool operator==(const X86Segment&, const X86Segment&) = default;
};

/// A descriptor table register (GDTR, IDTR).
struct X86Table {
    std::uint64_t base = 0;   ///< linear base address
    std::uint16_t limit = 0;  ///< limit, in bytes
    /// Field by field.
    friend bool operator==(const X86Table&, const X86Table&) = default;
};

/// x86-64 control registers, EFER and segment state.
struct X86SystemState {
    std::uint64_t cr0 = 0x60000010;  ///< reset value: CD, NW, ET
    std::uint64_t cr3 = 0;           ///< page-table base
    std::uint64_t cr4 = 0;           ///< CR4
    std::uint64_t efer = 0;          ///< IA32_EFER
    X86Segment cs;                   ///< code segment
    X86Segment ds;                   ///< data segment
    X86Segment es;                   ///< extra segment
    X86Segment fs;                   ///< FS
    X86Segment gs;                   ///< GS
    X86Segment ss;                   ///< stack segment
    X86Segment tr;                   ///< task register
    X86Segment ldt;                  ///< local descriptor table
    X86Table gdt;                    ///< global descriptor table register
    X86Table idt;                    ///< interrupt descriptor table register
    /// Field by field.
    friend bool operator==(const X86SystemState&, const X86SystemState&) = default;
};

/// AArch64 system registers that decide how EL1 code runs (Arm ARM, D13).
struct Arm64SystemState {
    std::uint64_t sctlr_el1 = 0x30d00800;  ///< reset value: MMU and caches off
    std::uint64_t vbar_el1 = 0;            ///< exception vector base
    std::uint64_t tpidr_el1 = 0;           ///< software thread ID
    /// Field by field.
    friend bool operator==(const Arm64SystemState&, const Arm64SystemState&) = default;
};

/// The system state of a vCPU of either architecture.
using SystemState = std::variant<X86SystemState, Arm64SystemState>;

}  // namespace guestmem
