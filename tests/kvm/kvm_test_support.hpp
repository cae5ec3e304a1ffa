// Shared pieces of the KVM test suites: a VM with guest RAM and boot tables,
// guest programs, access scripts and a small register-file device.
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "guest_abi.h"
#include "guest_programs.hpp"
#include "guestmem/guest_memory.hpp"
#include "guestmem/kvm.hpp"
#include "guestmem/vm.hpp"

namespace guestmem::test {

// Guest-physical layout of every test VM (all below the 4 GiB identity map).
inline constexpr GuestAddr kRamBase = 0;
inline constexpr std::uint64_t kRamSize = std::uint64_t{2} << 20;  // 512 frames of 4 KiB
inline constexpr GuestAddr kTables = 0x1000;                       // boot tables: 0x1000-0x7fff
inline constexpr GuestAddr kImage = 0x10000;                       // the guest program
inline constexpr GuestAddr kScripts = 0x20000;                     // one 4 KiB script page per vCPU
inline constexpr GuestAddr kStackTop = 0x80000;                    // one 4 KiB stack per vCPU, downwards
inline constexpr GuestAddr kDevice = 0xd0000000;                   // emulated devices live up here

/// Skips the current test when /dev/kvm is absent, and only then.
#define GUESTMEM_REQUIRE_KVM()                                                                     \
    do {                                                                                           \
        if (!::guestmem::kvm::available())                                                         \
            GTEST_SKIP() << "/dev/kvm is absent: KVM guest tests need it (the sim suites run anyway)"; \
    } while (0)

/// Opens a flat image in the VM's RAM and returns its size.
std::uint64_t load_program(Vm& vm, const char* path, GuestAddr at = kImage);

/// A KVM VM with RAM [0, ram_size) (2 MiB by default) of 4 KiB frames and boot
/// tables, ready for guests.
class GuestVm {
public:
    /// Fails the test (and returns null) if KVM refuses; call after GUESTMEM_REQUIRE_KVM.
    static std::unique_ptr<GuestVm> create(std::shared_ptr<CapabilitySpace> caps = nullptr,
                                           const kvm::BackendOptions& options = {},
                                           std::uint64_t ram_size = kRamSize);

    Vm& vm() { return *vm_; }
    CapabilitySpace& caps() { return *caps_; }
    const std::shared_ptr<CapabilitySpace>& shared_caps() { return caps_; }
    const kvm::BootTables& tables() const { return tables_; }
    ReservationId ram() const { return ram_; }

    /// A new vCPU in long mode at kImage + entry_offset with `args`.
    Vcpu& add_vcpu(kvm::GuestArgs args = {}, std::uint64_t entry_offset = 0);
    /// Sets `vcpu` up again (long mode, at the image's entry) with new arguments.
    void reset(Vcpu& vcpu, kvm::GuestArgs args, std::uint64_t entry_offset = 0);
    /// Runs and returns the result (fails the test if run() itself fails).
    kvm::RunResult run(Vcpu& vcpu);

private:
    std::shared_ptr<CapabilitySpace> caps_;
    std::unique_ptr<Vm> vm_;
    ReservationId ram_{};
    kvm::BootTables tables_;
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
    std::vector<std::uint64_t> doorbells_;
    std::vector<SeenAccess> seen_;
};

/// Frames of one size, allocated back to back (so contiguous in host memory).
std::vector<Cap> allocate_frames(CapabilitySpace& caps, std::size_t count, FrameSize size = FrameSize::k4KiB);

}  // namespace guestmem::test
