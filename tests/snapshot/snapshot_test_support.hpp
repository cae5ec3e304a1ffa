// SPDX-License-Identifier: BSD-2-Clause
// A VM with one of everything a snapshot holds, and a scratch folder.
#pragma once

#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <vector>

#include "guestmem/guest_ram.hpp"
#include "guestmem/sim.hpp"
#include "guestmem/snapshot.hpp"
#include "test_support.hpp"

namespace guestmem::test {

/// A folder under $TMPDIR (or /tmp) removed with everything in it.
struct ScratchDir {
    std::filesystem::path path;
    ScratchDir() {
        std::string pattern = (std::filesystem::temp_directory_path() / "gmsnap-XXXXXX").string();
        if (!::mkdtemp(pattern.data())) throw std::runtime_error("mkdtemp failed");
        path = pattern;
    }
    ~ScratchDir() {
        std::error_code ec;
        std::filesystem::remove_all(path, ec);
    }
    std::filesystem::path operator/(const std::string& name) const { return path / name; }
};

inline std::vector<char> read_file(const std::filesystem::path& p) {
    std::ifstream in(p, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}
inline void write_file(const std::filesystem::path& p, const std::vector<char>& bytes) {
    std::ofstream out(p, std::ios::binary | std::ios::trunc);
    out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

// Where the example VM puts things.
inline constexpr GuestAddr kRam = 0x200000;  // 4 MiB of RAM: two 2 MiB frames
inline constexpr std::uint64_t kRamBytes = 0x400000;
inline constexpr GuestAddr kPool = 0x10000000;  // 16 MiB anonymous pool
inline constexpr std::uint64_t kPoolBytes = 0x1000000;
inline constexpr GuestAddr kDevice = 0x800000;    // 4 frames of 4 KiB: frame 1 read-only, frame 3 shared
inline constexpr GuestAddr kAlias = 0x900000;     // frame 3 again
inline constexpr GuestAddr kMmio = 0xfee00000;    // unmapped device
inline constexpr GuestAddr kBell = 0xf0000000;    // 4-byte doorbell, match 7
inline constexpr GuestAddr kPosted = 0xf1000000;  // write-posting device

/// Counts, per reservation base, the faults and rings the restored handlers get.
struct HandlerLog {
    std::shared_ptr<std::map<GuestAddr, int>> faults = std::make_shared<std::map<GuestAddr, int>>();
    std::shared_ptr<int> rings = std::make_shared<int>(0);
    static FaultHandler counting(std::shared_ptr<std::map<GuestAddr, int>> faults, GuestAddr base) {
        return [faults = std::move(faults), base](Fault&) {
            ++(*faults)[base];
            return FaultResult::handled;
        };
    }
    FaultHandler fault_for(GuestAddr base) const { return counting(faults, base); }
    // The handlers share this log's counters (and outlive it).
    snapshot::DeviceHandlers handlers() const {
        snapshot::DeviceHandlers h;
        h.fault = [faults = faults](const snapshot::ReservationRecord& r) { return counting(faults, r.range.base); };
        h.doorbell = [rings = rings](const snapshot::ReservationRecord&) {
            return [rings](std::uint64_t n) { *rings += static_cast<int>(n); };
        };
        return h;
    }
    int at(GuestAddr base) const {
        auto it = faults->find(base);
        return it == faults->end() ? 0 : it->second;
    }
};

/// A sim VM with RAM (registered at an address and from a pool, partly
/// allocated), an anonymous pool and a mapped anonymous reservation, a device
/// with frames of mixed rights one of which is mapped twice, an unmapped
/// device, a doorbell and a write-posting device.
struct ExampleVm : SimVm {
    HandlerLog log;
    GuestAddr anon = 0;      // the mapped anonymous reservation (2 pages)
    GuestAddr anon_ram = 0;  // RAM registered from the pool (3 pages)

    explicit ExampleVm(std::shared_ptr<CapabilitySpace> space = std::make_shared<CapabilitySpace>())
        : SimVm(std::move(space)) {
        EXPECT_TRUE(vm->ram().register_at(kRam, kRamBytes));
        EXPECT_TRUE(vm->ram().mark_allocated(kRam + 0x1000, 0x3000));
        EXPECT_TRUE(vm->make_anon(kPool, kPoolBytes));
        auto ram = vm->ram().register_anon(0x3000);
        EXPECT_TRUE(ram);
        anon_ram = ram ? *ram : 0;
        auto a = vm->reserve_anon(0x2000, 0x10000, log.fault_for(0));
        EXPECT_TRUE(a);
        anon = a ? a->addr : 0;
        std::vector<Cap> anon_frames{frame(), frame()};
        EXPECT_TRUE(vm->map_frames(a->id, anon_frames, 12));

        auto dev = vm->reserve_at(kDevice, 0x4000, log.fault_for(kDevice));
        std::vector<Cap> dev_frames{frame(), frame(), frame(), frame()};
        EXPECT_TRUE(vm->map(*dev, [dev_frames](GuestAddr addr) {
            const std::size_t i = (addr - kDevice) / kPageSize;
            return FrameRequest{dev_frames[i], i == 1 ? Rights::read : Rights::read_write, addr, 12};
        }));
        auto alias = vm->reserve_at(kAlias, 0x1000, log.fault_for(kAlias));
        EXPECT_TRUE(vm->map_frames(*alias, std::span(&dev_frames[3], 1), 12));
        EXPECT_TRUE(vm->reserve_at(kMmio, 0x1000, log.fault_for(kMmio)));
        EXPECT_TRUE(vm->reserve_doorbell(
            kBell, 4, [](std::uint64_t) {}, 7));
        EXPECT_TRUE(vm->reserve_write_posting(kPosted, 0x100, log.fault_for(kPosted)));

        // Contents: RAM, the anonymous reservation, the device frames (the
        // read-only one written from the VMM's side, through its capability).
        EXPECT_TRUE(sim::write(*vcpu, kRam, 8, 0x1111));
        EXPECT_TRUE(sim::write(*vcpu, kRam + 0x3ff000, 8, 0x2222));
        EXPECT_TRUE(sim::write(*vcpu, anon_ram + 0x2000, 4, 0x3333));
        EXPECT_TRUE(sim::write(*vcpu, anon + 0x1008, 8, 0x4444));
        EXPECT_TRUE(sim::write(*vcpu, kDevice, 8, 0x5555));
        std::memcpy(memory(dev_frames[1]).data(), "readonly", 8);
        EXPECT_TRUE(sim::write(*vcpu, kAlias + 0x10, 8, 0x6666));

        X86Registers regs;
        regs.rax = 0xabc;
        regs.r15 = 0xdef;
        regs.rip = 0x200123;
        regs.rflags = 0x202;
        EXPECT_TRUE(vcpu->set_registers(regs));
        X86SystemState sys;
        sys.cr0 = 0x80000011;
        sys.cr3 = 0x5000;
        sys.efer = 0x500;
        sys.cs.selector = 0x8;
        sys.cs.l = true;
        sys.gdt = {0x1000, 0x27};
        EXPECT_TRUE(vcpu->set_system_state(sys));
        for (std::size_t i = 0; i < 4; ++i) (void)caps->remove(dev_frames[i]);
        (void)caps->remove(anon_frames[0]);
        (void)caps->remove(anon_frames[1]);
    }
};

inline snapshot::SaveOptions diff_of(const std::filesystem::path& parent) {
    snapshot::SaveOptions o;
    o.parent = parent;
    return o;
}
inline snapshot::SaveOptions without_vcpus() {
    snapshot::SaveOptions o;
    o.vcpus = false;
    return o;
}

/// A fresh sim VM to restore into.
struct EmptyVm : SimVm {
    explicit EmptyVm(std::shared_ptr<CapabilitySpace> space = std::make_shared<CapabilitySpace>())
        : SimVm(std::move(space)) {}
    bool untouched() const { return vm->reservations().empty() && vm->pools().empty() && vm->ram().regions().empty(); }
};

inline std::uint64_t read(Vcpu& vcpu, GuestAddr addr, std::size_t size = 8) {
    auto v = sim::read(vcpu, addr, size);
    EXPECT_TRUE(v) << (v ? "" : v.error().message);
    return v ? *v : ~std::uint64_t{0};
}

}  // namespace guestmem::test
