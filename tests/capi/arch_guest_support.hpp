// SPDX-License-Identifier: BSD-2-Clause
// A VM made through the C interface on any backend and architecture, with
// RAM and one vCPU, that runs a few instructions of machine code: for the
// tests of libsel4vm's architecture interfaces (vCPU context, port I/O).
#pragma once

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdint>
#include <string>
#include <vector>

#include "sel4vm/guest_ram.h"
#include "sel4vm/guestmem.h"

namespace guestmem::test {

/// A backend and guest architecture to run a test on.
struct ArchCase {
    vm_backend_t backend;
    vm_arch_t arch;
    const char* name;  // for the test name
};

inline std::string case_name(const ::testing::TestParamInfo<ArchCase>& info) { return info.param.name; }

/// Why `backend` cannot be tested here, or "" when it can: KVM needs
/// /dev/kvm; and a backend left out of the build (GUESTMEM_WITH_EMU,
/// GUESTMEM_WITH_KVM off) cannot be tested at all.
inline std::string unavailable(vm_backend_t backend) {
#ifndef GUESTMEM_TEST_WITH_EMU
    if (backend == VM_BACKEND_EMU) return "the emulator backend is not built";
#endif
#ifndef GUESTMEM_TEST_WITH_KVM
    if (backend == VM_BACKEND_KVM) return "the KVM backend is not built";
#endif
    if (backend == VM_BACKEND_KVM && ::access("/dev/kvm", R_OK | W_OK) != 0) return "no /dev/kvm";
    return "";
}

/// A VM of `arch` on `backend`: RAM at [0, kRamSize), memory initialised,
/// one vCPU. Check ok() (a failed step is a test failure, logged).
class ArchGuest {
public:
    static constexpr uintptr_t kRamSize = 4u << 20;
    static constexpr uintptr_t kEntry = 0x10000;  // where code() goes
    static constexpr uintptr_t kStack = 0x80000;
    static constexpr uintptr_t kTables = 0x200000;  // x86-64 boot tables

    ArchGuest(vm_backend_t backend, vm_arch_t arch) {
        vm = vm_create_arch(backend, arch);
        if (!vm) return;
        if (vm_memory_init(vm) != 0 || vm_ram_register_at(vm, 0, kRamSize, false) != 0) return;
        vcpu = vm_create_vcpu(vm, 0);
        if (!vcpu) return;
        vm_boot_spec_t spec{};
        spec.entry = kEntry;
        spec.stack = kStack;
        spec.x86_tables = kTables;
        booted_ = vcpu_boot(vcpu, &spec) == 0;
    }
    ~ArchGuest() {
        if (vm) vm_destroy(vm);
    }
    ArchGuest(const ArchGuest&) = delete;
    ArchGuest& operator=(const ArchGuest&) = delete;

    bool ok() const { return vm && vcpu && booted_; }

    /// Writes machine code at kEntry.
    bool code(std::vector<std::uint8_t> bytes) {
        return vm_ram_touch(vm, kEntry, bytes.size(), vm_guest_ram_write_callback, bytes.data()) == 0;
    }
    /// AArch64 instructions (little-endian words) at kEntry.
    bool code32(const std::vector<std::uint32_t>& words) {
        std::vector<std::uint8_t> bytes;
        for (std::uint32_t w : words) {
            for (int i = 0; i < 4; ++i) bytes.push_back(static_cast<std::uint8_t>(w >> (8 * i)));
        }
        return code(std::move(bytes));
    }

    vm_t* vm = nullptr;
    vm_vcpu_t* vcpu = nullptr;

private:
    bool booted_ = false;
};

}  // namespace guestmem::test
