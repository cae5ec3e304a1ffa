// SPDX-License-Identifier: BSD-2-Clause
/// @file
/// A vCPU's register file, for every architecture.
#pragma once

#include <array>
#include <cstdint>
#include <variant>

#include "guestmem/arch.hpp"
#include "guestmem/types.hpp"

namespace guestmem {

/// x86-64 general-purpose registers, instruction pointer and flags
/// (Intel SDM vol. 1, 3.4).
struct X86Registers {
    std::uint64_t rax = 0;       ///< rax
    std::uint64_t rbx = 0;       ///< rbx
    std::uint64_t rcx = 0;       ///< rcx
    std::uint64_t rdx = 0;       ///< rdx
    std::uint64_t rsi = 0;       ///< rsi
    std::uint64_t rdi = 0;       ///< rdi
    std::uint64_t rsp = 0;       ///< rsp
    std::uint64_t rbp = 0;       ///< rbp
    std::uint64_t r8 = 0;        ///< r8
    std::uint64_t r9 = 0;        ///< r9
    std::uint64_t r10 = 0;       ///< r10
    std::uint64_t r11 = 0;       ///< r11
    std::uint64_t r12 = 0;       ///< r12
    std::uint64_t r13 = 0;       ///< r13
    std::uint64_t r14 = 0;       ///< r14
    std::uint64_t r15 = 0;       ///< r15
    std::uint64_t rip = 0;       ///< instruction pointer
    std::uint64_t rflags = 0x2;  ///< flags (bit 1 is always set)
    /// Field by field.
    friend bool operator==(const X86Registers&, const X86Registers&) = default;
};

/// AArch64 general-purpose registers, stack pointer, program counter and
/// PSTATE as the SPSR layout holds it (Arm ARM, C5.2.18).
struct Arm64Registers {
    std::array<std::uint64_t, 31> x{};  ///< x0 to x30 (x30 is the link register)
    std::uint64_t sp = 0;               ///< the stack pointer of the current exception level
    std::uint64_t pc = 0;               ///< program counter
    std::uint64_t pstate = 0x3c5;       ///< EL1h with D, A, I and F masked
    /// Field by field.
    friend bool operator==(const Arm64Registers&, const Arm64Registers&) = default;
};

/// The registers of a vCPU of either architecture; the alternative held
/// matches the vCPU's Arch.
using Registers = std::variant<X86Registers, Arm64Registers>;

/// The architecture whose registers `r` holds.
constexpr Arch arch_of(const Registers& r) {
    return std::holds_alternative<X86Registers>(r) ? Arch::x86_64 : Arch::aarch64;
}
/// rip or pc.
constexpr GuestAddr instruction_pointer_of(const Registers& r) {
    return std::holds_alternative<X86Registers>(r) ? std::get<X86Registers>(r).rip : std::get<Arm64Registers>(r).pc;
}

}  // namespace guestmem
