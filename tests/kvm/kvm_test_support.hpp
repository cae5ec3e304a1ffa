// SPDX-License-Identifier: BSD-2-Clause
// Shared pieces of the guest test suites: the backends that run guests, a VM
// with guest RAM and boot tables, guest programs, access scripts and a small
// register-file device.
#pragma once

#include <gtest/gtest.h>

#include <array>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include "guest_abi.h"
#include "guest_programs.hpp"
#include "guestmem/backend_registry.hpp"
#include "guestmem/guest_memory.hpp"
#include "guestmem/kvm.hpp"
#include "guestmem/registers.hpp"
#include "guestmem/run_result.hpp"
#include "guestmem/vm.hpp"

namespace guestmem {
/// GoogleTest prints a backend parameter by its name ("kvm"), not its bytes.
inline void PrintTo(BackendKind kind, std::ostream* os) { *os << to_string(kind); }
}  // namespace guestmem

namespace guestmem::test {

// Guest-physical layout of every test VM (all below the 4 GiB identity map).
inline constexpr GuestAddr kRamBase = 0;
inline constexpr std::uint64_t kRamSize = std::uint64_t{2} << 20;  // 512 frames of 4 KiB
inline constexpr GuestAddr kTables = 0x1000;                       // boot tables: 0x1000-0x7fff
inline constexpr GuestAddr kImage = 0x10000;                       // the guest program
inline constexpr GuestAddr kScripts = 0x20000;                     // one 4 KiB script page per vCPU
inline constexpr GuestAddr kStackTop = 0x80000;                    // one 4 KiB stack per vCPU, downwards
inline constexpr GuestAddr kDevice = 0xd0000000;                   // emulated devices live up here

/// Values for the first four argument registers (rdi, rsi, rdx, rcx).
using GuestArgs = std::array<std::uint64_t, 4>;

/// The backends that run guest code, for the suites parametrized over them
/// (device model, guest run, concurrency, isolation): every backend this
/// library can build, whether or not it can run here (an instance that
/// cannot run skips and says why).
std::vector<BackendKind> guest_backends();

/// Why `kind` cannot run the x86-64 test guests on this host, naming the
/// backend (e.g. "kvm: unavailable (/dev/kvm is absent)"), or nullopt when it can.
std::optional<std::string> backend_unavailable(BackendKind kind);

/// Skips the current test when `kind` cannot run guests here, and only then.
#define GUESTMEM_REQUIRE_BACKEND(kind)                                                                            \
    do {                                                                                                          \
        if (auto why_unavailable = ::guestmem::test::backend_unavailable(kind)) GTEST_SKIP() << *why_unavailable; \
    } while (0)

/// Skips a KVM-only test when KVM cannot run guests here, and only then.
#define GUESTMEM_REQUIRE_KVM() GUESTMEM_REQUIRE_BACKEND(::guestmem::BackendKind::kvm)

/// Base of the suites parametrized over guest_backends(): the parameter is the
/// backend; an instance whose backend cannot run here skips with the reason.
class GuestBackendTest : public ::testing::TestWithParam<BackendKind> {
protected:
    void SetUp() override { GUESTMEM_REQUIRE_BACKEND(GetParam()); }
    BackendKind backend() const { return GetParam(); }
};

/// Names an instance after its backend ("kvm", "emu").
std::string backend_param_name(const ::testing::TestParamInfo<BackendKind>& info);

/// Instantiates a GuestBackendTest suite once per guest backend.
#define GUESTMEM_INSTANTIATE_FOR_GUEST_BACKENDS(suite)                                                 \
    INSTANTIATE_TEST_SUITE_P(Backends, suite, ::testing::ValuesIn(::guestmem::test::guest_backends()), \
                             ::guestmem::test::backend_param_name)

/// Opens a flat image in the VM's RAM and returns its size.
std::uint64_t load_program(Vm& vm, const char* path, GuestAddr at = kImage);

/// The x86-64 registers of `vcpu` (fails the test and returns zeros if they cannot be read).
X86Registers x86_registers(Vcpu& vcpu);

/// A VM with RAM [0, ram_size) (2 MiB by default) of 4 KiB frames and room for
/// the boot tables at kTables, ready for x86-64 guests.
class GuestVm {
public:
    /// A VM on `backend`. Fails the test (and returns null) if the backend
    /// refuses; call after GUESTMEM_REQUIRE_BACKEND.
    static std::unique_ptr<GuestVm> create(BackendKind backend, std::shared_ptr<CapabilitySpace> caps = nullptr,
                                           std::uint64_t ram_size = kRamSize);
    /// A KVM VM with `options` (memslot limits and the like).
    static std::unique_ptr<GuestVm> create_kvm(const kvm::BackendOptions& options,
                                               std::shared_ptr<CapabilitySpace> caps = nullptr,
                                               std::uint64_t ram_size = kRamSize);

    Vm& vm() { return *vm_; }
    CapabilitySpace& caps() { return *caps_; }
    const std::shared_ptr<CapabilitySpace>& shared_caps() { return caps_; }
    ReservationId ram() const { return ram_; }

    /// A new vCPU booted in long mode at kImage + entry_offset with `args`.
    Vcpu& add_vcpu(GuestArgs args = {}, std::uint64_t entry_offset = 0);
    /// Boots `vcpu` again (long mode, at the image's entry) with new arguments.
    void reset(Vcpu& vcpu, GuestArgs args, std::uint64_t entry_offset = 0);
    /// Runs and returns the result (fails the test if run() itself fails).
    RunResult run(Vcpu& vcpu);

    GuestVm() = default;

private:
    bool add_ram(std::uint64_t ram_size);

    std::shared_ptr<CapabilitySpace> caps_;
    std::unique_ptr<Vm> vm_;
    ReservationId ram_{};
};

/// One access of an access script (guest_abi.h layout).
struct ScriptOp {
    std::uint32_t kind = SCRIPT_END;
    std::uint32_t size = 0;
    std::uint64_t addr = 0;
    std::uint64_t value = 0;
    std::uint64_t spare = 0;

    static ScriptOp read(GuestAddr addr, std::uint32_t size) { return {SCRIPT_READ, size, addr, 0, 0}; }
    static ScriptOp write(GuestAddr addr, std::uint32_t size, std::uint64_t value) {
        return {SCRIPT_WRITE, size, addr, value, 0};
    }
};
static_assert(sizeof(ScriptOp) == SCRIPT_OP_BYTES);

/// Writes ops (plus the end marker) into guest RAM at `at`.
void write_script(Vm& vm, GuestAddr at, const std::vector<ScriptOp>& ops);
/// Reads the ops back (reads then hold the values the guest saw).
std::vector<ScriptOp> read_script(Vm& vm, GuestAddr at, std::size_t count);

/// One access a device saw.
struct SeenAccess {
    GuestAddr addr;
    std::size_t size;
    bool is_write;
    std::uint64_t data;
    std::uint64_t mask;
    friend bool operator==(const SeenAccess&, const SeenAccess&) = default;
};

/// A small device model used by both backends' tests:
///   +0x00..0x3f  scratch: 64 bytes, any access size, reads return what was written
///   +0x40        ID (4 bytes, read-only: writes are ignored)
///   +0x48        counter (8 bytes): each read returns the next value from 1
///   +0x50        doorbell (write-only: reads are ignored, i.e. yield 0)
///   +0x58..      nothing: FAULT_ERROR
/// Thread safe (a mutex): several vCPUs may poke it at once.
class RegisterFile {
public:
    static constexpr std::uint64_t kSize = 0x60;
    static constexpr std::uint32_t kId = 0x5e1f0001;
    static constexpr GuestAddr kIdReg = 0x40, kCounterReg = 0x48, kDoorbellReg = 0x50;

    explicit RegisterFile(GuestAddr base) : base_(base) {}
    FaultHandler handler();

    std::vector<SeenAccess> seen() const;
    std::vector<std::uint64_t> doorbells() const;
    std::size_t accesses() const;

private:
    FaultResult on_fault(Fault& fault);

    const GuestAddr base_;
    mutable std::mutex mutex_;
    std::uint8_t scratch_[0x40] = {};
    std::uint64_t counter_ = 0;
    std::uint64_t latched_counter_ = 0;  // high half of the last split counter read
    std::vector<std::uint64_t> doorbells_;
    std::vector<SeenAccess> seen_;
};

/// Frames of one size, allocated back to back (so contiguous in host memory).
std::vector<Cap> allocate_frames(CapabilitySpace& caps, std::size_t count, FrameSize size = FrameSize::k4KiB);

}  // namespace guestmem::test
