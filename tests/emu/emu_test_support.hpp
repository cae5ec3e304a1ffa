// SPDX-License-Identifier: BSD-2-Clause
// Helpers of the emulator backend's tests: a VM with RAM, guest images, boot state.
#pragma once

#include <gtest/gtest.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "guestmem/capability_space.hpp"
#include "guestmem/emu.hpp"
#include "guestmem/vm.hpp"

namespace guestmem::emu::test {

inline constexpr GuestAddr kRamSize = 1 << 20;  // RAM at [0, 1 MiB)
inline constexpr GuestAddr kCode = 0x1000;      // guest images load here
inline constexpr GuestAddr kStack = 0x80000;
inline constexpr GuestAddr kData = 0x40000;       // scratch RAM for guests
inline constexpr GuestAddr kDevice = 0x10000000;  // device reservations from here

/// The bytes of test guest `name` for `arch`; empty when it was not built
/// (no cross binutils).
std::vector<std::byte> guest_image(Arch arch, const std::string& name);

/// A VM on the emulator with one vCPU and RAM at [0, kRamSize).
struct EmuVm {
    Arch arch;
    std::shared_ptr<CapabilitySpace> caps;
    std::unique_ptr<Vm> vm;
    Vcpu* vcpu = nullptr;

    /// Fails the test (fatally) when the VM cannot be made.
    explicit EmuVm(Arch arch, Options options = {});

    /// Reserves [addr, addr + size) and maps fresh 4 KiB frames with `rights`.
    Result<ReservationId> add_ram(GuestAddr addr, std::uint64_t size, Rights rights, FaultHandler handler = {});
    /// Copies guest `name` to kCode; false when it was not built.
    bool load(const std::string& name);
    /// Boot state without Vcpu::boot: long mode (x86-64) or EL1, PC = entry,
    /// SP = kStack, args in rdi, rsi, rdx (x0, x1, x2).
    void start(Vcpu& cpu, GuestAddr entry, std::array<std::uint64_t, 3> args);
    /// rax (x86-64) or x3 (AArch64): where the test guests leave results.
    std::uint64_t result(Vcpu& cpu);
};

/// A handler that counts, logs nothing and ignores.
FaultHandler ignoring();

/// Both architectures, for parameterised tests.
inline const std::array<Arch, 2> kArches = {Arch::x86_64, Arch::aarch64};

/// "x86_64" or "aarch64", for test names.
std::string arch_name(const ::testing::TestParamInfo<Arch>& info);

/// Skips the test when guest `name` was not built for `arch`.
#define EMU_LOAD_OR_SKIP(emu, name)                                                                                   \
    do {                                                                                                              \
        if (!(emu).load(name))                                                                                        \
            GTEST_SKIP() << "guest " << (name) << " was not built for " << to_string((emu).arch) << " (no binutils)"; \
    } while (0)

}  // namespace guestmem::emu::test
