// SPDX-License-Identifier: BSD-2-Clause
// Full snapshots: save, inspect, restore (eager and lazy) on the sim backend.
#include <gtest/gtest.h>

#include <cstring>

#include "guestmem/guest_memory.hpp"
#include "snapshot_test_support.hpp"

namespace guestmem {
namespace {

using test::EmptyVm;
using test::ExampleVm;
using test::read;
using test::ScratchDir;

// What a reservation is, comparable across VMs.
struct Shape {
    Range range;
    bool anonymous, mapped, doorbell, write_posting;
    std::optional<std::uint64_t> match;
    std::size_t frames;
    bool ram;
    friend bool operator==(const Shape&, const Shape&) = default;
};

std::vector<Shape> shapes(const Vm& vm) {
    std::vector<Shape> out;
    for (const ReservationInfo& i : vm.reservations()) {
        out.push_back(Shape{i.range, i.anonymous, i.mapped || i.deferred, i.doorbell, i.write_posting, i.doorbell_match,
                            i.frames, vm.ram().owns(i.id)});
    }
    return out;
}

std::vector<std::pair<GuestAddr, Rights>> rights_of(Vm& vm) {
    std::vector<std::pair<GuestAddr, Rights>> out;
    for (const ReservationInfo& i : vm.reservations()) {
        auto maps = vm.frame_mappings(i.id);
        EXPECT_TRUE(maps);
        for (const FrameMapping& m : *maps) out.emplace_back(m.gpa, m.rights);
    }
    return out;
}

TEST(SnapshotInspect, DescribesTheLayoutTheContentsAndTheVcpus) {
    ScratchDir dir;
    ExampleVm source;
    auto saved = snapshot::save(*source.vm, dir / "full.snap");
    ASSERT_TRUE(saved) << saved.error().message;
    auto info = snapshot::inspect(dir / "full.snap");
    ASSERT_TRUE(info) << info.error().message;
    EXPECT_EQ(info->format_version, 2u);
    EXPECT_FALSE(info->diff);
    EXPECT_EQ(info->parent, "");
    EXPECT_NE(info->id, 0u);
    EXPECT_EQ(info->id, saved->id);
    EXPECT_EQ(info->reservations.size(), source.vm->reservations().size());
    EXPECT_EQ(info->anonymous_pools, (std::vector<Range>{{test::kPool, test::kPoolBytes}}));
    EXPECT_EQ(info->ram_regions, source.vm->ram().regions());
    // Frames: 2 of RAM (2 MiB), 3 of pool RAM, 2 anonymous, 4 device (one shared): 11, stored once each.
    EXPECT_EQ(info->frames, 11u);
    EXPECT_EQ(info->frame_bytes, 2 * (std::uint64_t{2} << 20) + 9 * kPageSize);
    // Non-zero pages: 2 in RAM, 1 in pool RAM, 1 anonymous, 3 device (frames 0, 1, 3).
    EXPECT_EQ(info->stored_pages, 7u);
    EXPECT_EQ(info->zero_pages, info->frame_bytes / kPageSize - 7);
    EXPECT_EQ(info->vcpus, 1u);
    EXPECT_EQ(info->file_bytes, std::filesystem::file_size(dir / "full.snap"));
    EXPECT_LT(info->file_bytes, 12 * kPageSize) << "zero pages are omitted";
    for (const auto& r : info->reservations) {
        if (r.range.base == test::kDevice) {
            EXPECT_EQ(r.kind, snapshot::ReservationKind::device);
            EXPECT_EQ(r.frames, 4u);
            EXPECT_EQ(r.stored_bytes, 3 * kPageSize);
        }
        if (r.range.base == test::kAlias) {
            EXPECT_EQ(r.stored_bytes, 0u) << "the shared frame counts once";
        }
        if (r.range.base == test::kBell) {
            EXPECT_EQ(r.kind, snapshot::ReservationKind::doorbell);
        }
        if (r.range.base == test::kPosted) {
            EXPECT_EQ(r.kind, snapshot::ReservationKind::write_posting);
        }
        if (r.range.base == source.anon) {
            EXPECT_EQ(r.kind, snapshot::ReservationKind::anonymous);
        }
        if (r.range.base == test::kRam || r.range.base == source.anon_ram) {
            EXPECT_EQ(r.kind, snapshot::ReservationKind::ram);
        }
    }
    EXPECT_FALSE(std::filesystem::exists(dir / "full.snap.tmp")) << "no temporary file is left";
    std::size_t entries = 0;
    for ([[maybe_unused]] const auto& e : std::filesystem::directory_iterator(dir.path)) ++entries;
    EXPECT_EQ(entries, 1u);
}

class RoundTrip : public ::testing::TestWithParam<snapshot::RestoreMode> {};

TEST_P(RoundTrip, RebuildsLayoutContentsRightsSharingHandlersAndVcpus) {
    ScratchDir dir;
    ExampleVm source;
    ASSERT_TRUE(snapshot::save(*source.vm, dir / "full.snap"));

    EmptyVm target;
    test::HandlerLog log;
    auto restored = snapshot::restore(*target.vm, dir / "full.snap", log.handlers(), GetParam());
    ASSERT_TRUE(restored) << restored.error().message;
    EXPECT_EQ(restored->chain, (std::vector<std::filesystem::path>{dir / "full.snap"}));
    Vcpu& cpu = *target.vcpu;

    // Contents (a lazy restore maps each reservation on its first access).
    EXPECT_EQ(read(cpu, test::kRam), 0x1111u);
    EXPECT_EQ(read(cpu, test::kRam + 0x3ff000), 0x2222u);
    EXPECT_EQ(read(cpu, test::kRam + 0x2000), 0u);
    EXPECT_EQ(read(cpu, source.anon_ram + 0x2000, 4), 0x3333u);
    EXPECT_EQ(read(cpu, source.anon + 0x1008), 0x4444u);
    EXPECT_EQ(read(cpu, test::kDevice), 0x5555u);
    std::uint64_t text = 0;
    std::memcpy(&text, "readonly", 8);
    EXPECT_EQ(read(cpu, test::kDevice + 0x1000), text);
    EXPECT_EQ(read(cpu, test::kDevice + 0x3010), 0x6666u);
    EXPECT_EQ(read(cpu, test::kAlias + 0x10), 0x6666u);

    // Layout, rights and RAM bookkeeping are the source's.
    EXPECT_EQ(shapes(*target.vm), shapes(*source.vm));
    EXPECT_EQ(rights_of(*target.vm), rights_of(*source.vm));
    EXPECT_EQ(target.vm->pools().size(), 1u);
    EXPECT_EQ(target.vm->pools()[0].range, source.vm->pools()[0].range);
    EXPECT_EQ(target.vm->pools()[0].free_bytes, source.vm->pools()[0].free_bytes);
    EXPECT_EQ(target.vm->ram().regions(), source.vm->ram().regions());
    EXPECT_EQ(target.vm->ram().free_regions(), source.vm->ram().free_regions());

    // The read-only frame refuses guest writes (they reach the handler).
    EXPECT_TRUE(sim::write(cpu, test::kDevice + 0x1000, 8, 1));
    EXPECT_EQ(read(cpu, test::kDevice + 0x1000), text);
    EXPECT_EQ(log.at(test::kDevice), 1);

    // The shared frame is one frame again: written through one mapping, read through the other.
    ASSERT_TRUE(sim::write(cpu, test::kAlias + 0x20, 8, 0x7777));
    EXPECT_EQ(read(cpu, test::kDevice + 0x3020), 0x7777u);
    std::vector<const Frame*> shared;
    for (const ReservationInfo& i : target.vm->reservations()) {
        if (i.range.base != test::kAlias && i.range.base != test::kDevice) continue;
        auto maps = target.vm->frame_mappings(i.id);
        shared.push_back(maps->back().frame.get());
    }
    ASSERT_EQ(shared.size(), 2u);
    EXPECT_EQ(shared[0], shared[1]);

    // Devices got the caller's handlers back.
    EXPECT_EQ(read(cpu, test::kMmio, 4), 0u);
    EXPECT_EQ(log.at(test::kMmio), 1);
    EXPECT_TRUE(sim::write(cpu, test::kPosted, 4, 1));
    EXPECT_EQ(log.at(test::kPosted), 1);
    EXPECT_TRUE(sim::write(cpu, test::kBell, 4, 6));
    EXPECT_EQ(*log.rings, 0) << "the match value came back";
    EXPECT_TRUE(sim::write(cpu, test::kBell, 4, 7));
    EXPECT_EQ(*log.rings, 1);

    // vCPU state.
    auto regs = target.vcpu->registers();
    auto want = source.vcpu->registers();
    ASSERT_TRUE(regs && want);
    // The reads and writes above advanced the restored vCPU's ip.
    auto r = std::get<X86Registers>(*regs);
    auto w = std::get<X86Registers>(*want);
    EXPECT_EQ(r.rax, 0xabcu);
    EXPECT_EQ(r.r15, 0xdefu);
    EXPECT_EQ(r.rflags, 0x202u);
    r.rip = w.rip;
    EXPECT_EQ(r, w);
    EXPECT_EQ(*target.vcpu->system_state(), *source.vcpu->system_state());
}

TEST_P(RoundTrip, CreatesTheVcpusTheSnapshotHas) {
    ScratchDir dir;
    ExampleVm source;
    auto second = source.vm->create_vcpu();
    ASSERT_TRUE(second);
    X86Registers regs;
    regs.rbx = 42;
    ASSERT_TRUE((*second)->set_registers(regs));
    ASSERT_TRUE(snapshot::save(*source.vm, dir / "s"));
    EmptyVm target;
    ASSERT_TRUE(snapshot::restore(*target.vm, dir / "s", test::HandlerLog{}.handlers(), GetParam()));
    ASSERT_EQ(target.vm->vcpu_count(), 2u);
    EXPECT_EQ(std::get<X86Registers>(*target.vm->vcpu(1)->registers()), regs);
}

INSTANTIATE_TEST_SUITE_P(Modes, RoundTrip, ::testing::Values(snapshot::RestoreMode::eager, snapshot::RestoreMode::lazy),
                         [](const auto& info) {
                             return info.param == snapshot::RestoreMode::eager ? std::string("Eager")
                                                                               : std::string("Lazy");
                         });

TEST(LazyRestore, AllocatesAndReadsNothingUntilTheFirstAccess) {
    ScratchDir dir;
    ExampleVm source;
    ASSERT_TRUE(snapshot::save(*source.vm, dir / "full.snap"));
    EmptyVm target;
    ASSERT_TRUE(snapshot::restore(*target.vm, dir / "full.snap", test::HandlerLog{}.handlers()));
    EXPECT_EQ(target.caps->frame_bytes_in_use(), 0u);
    for (const ReservationInfo& i : target.vm->reservations()) {
        if (!i.doorbell && !i.write_posting && i.range.base != test::kMmio) {
            EXPECT_TRUE(i.deferred) << std::hex << i.range.base;
        }
    }
    // One access maps that one reservation: the RAM's two 2 MiB frames.
    EXPECT_EQ(read(*target.vcpu, test::kRam + 0x3ff000), 0x2222u);
    EXPECT_EQ(target.caps->frame_bytes_in_use(), test::kRamBytes);
    // The shared frame, made by the first of its reservations, is reused by the second.
    EXPECT_EQ(read(*target.vcpu, test::kAlias + 0x10), 0x6666u);
    EXPECT_EQ(target.caps->frame_bytes_in_use(), test::kRamBytes + kPageSize);
    EXPECT_EQ(read(*target.vcpu, test::kDevice + 0x3010), 0x6666u);
    EXPECT_EQ(target.caps->frame_bytes_in_use(), test::kRamBytes + 4 * kPageSize);
    EXPECT_FALSE(target.vm->deferred_mapping()) << "the VM's own setting is restored";
}

TEST(LazyRestore, KeepsTheVmsDeferredSettingAndEagerMapsAtOnce) {
    ScratchDir dir;
    ExampleVm source;
    ASSERT_TRUE(snapshot::save(*source.vm, dir / "full.snap"));
    EmptyVm target;
    target.vm->set_deferred_mapping(true);
    ASSERT_TRUE(
        snapshot::restore(*target.vm, dir / "full.snap", test::HandlerLog{}.handlers(), snapshot::RestoreMode::eager));
    EXPECT_TRUE(target.vm->deferred_mapping());
    for (const ReservationInfo& i : target.vm->reservations()) EXPECT_FALSE(i.deferred);
    EXPECT_EQ(target.caps->frame_bytes_in_use(), 2 * (std::uint64_t{2} << 20) + 9 * kPageSize);
    EXPECT_EQ(target.caps->live_capabilities(), 0u) << "the frames live in their mappings, not in capabilities";
}

TEST(Save, CompletesDeferredMappingsAndSavesARestoredVmAgain) {
    ScratchDir dir;
    ExampleVm source;
    ASSERT_TRUE(snapshot::save(*source.vm, dir / "a"));
    EmptyVm middle;
    ASSERT_TRUE(snapshot::restore(*middle.vm, dir / "a", test::HandlerLog{}.handlers()));
    auto again = snapshot::save(*middle.vm, dir / "b");
    ASSERT_TRUE(again) << again.error().message;
    EXPECT_EQ(again->stored_pages, 7u);
    EmptyVm target;
    ASSERT_TRUE(snapshot::restore(*target.vm, dir / "b", test::HandlerLog{}.handlers()));
    EXPECT_EQ(read(*target.vcpu, source.anon + 0x1008), 0x4444u);
}

TEST(Restore, AllocatedRamSpanningAdjacentRegistrations) {
    ScratchDir dir;
    test::SimVm source;
    ASSERT_TRUE(source.vm->ram().register_at(0x100000, 0x4000));
    ASSERT_TRUE(source.vm->ram().register_at(0x104000, 0x4000));
    ASSERT_TRUE(source.vm->ram().mark_allocated(0x103000, 0x2000));
    ASSERT_TRUE(snapshot::save(*source.vm, dir / "s"));
    EmptyVm target;
    auto r = snapshot::restore(*target.vm, dir / "s", test::HandlerLog{}.handlers());
    ASSERT_TRUE(r) << r.error().message;
    EXPECT_EQ(target.vm->ram().free_regions(), source.vm->ram().free_regions());
    EXPECT_EQ(target.vm->ram().regions(), (std::vector<Range>{{0x100000, 0x8000}}));
}

TEST(Save, WithoutVcpusSavesNone) {
    ScratchDir dir;
    ExampleVm source;
    auto info = snapshot::save(*source.vm, dir / "s", test::without_vcpus());
    ASSERT_TRUE(info);
    EXPECT_EQ(info->vcpus, 0u);
    EXPECT_EQ(info->vcpus_without_state, 0u);
}

TEST(Restore, RefusesAMissingHandler) {
    ScratchDir dir;
    ExampleVm source;
    ASSERT_TRUE(snapshot::save(*source.vm, dir / "s"));
    EmptyVm target;
    auto handlers = test::HandlerLog{}.handlers();
    handlers.doorbell = nullptr;
    auto r = snapshot::restore(*target.vm, dir / "s", handlers);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.code(), Errc::invalid_argument);
    EXPECT_TRUE(target.untouched());
    handlers = test::HandlerLog{}.handlers();
    handlers.fault = [](const snapshot::ReservationRecord& rec) -> FaultHandler {
        if (rec.range.base == test::kMmio) return {};
        return [](Fault&) { return FaultResult::handled; };
    };
    r = snapshot::restore(*target.vm, dir / "s", handlers);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.code(), Errc::invalid_argument);
    EXPECT_NE(r.error().message.find("0xfee00000"), std::string::npos) << r.error().message;
    EXPECT_TRUE(target.untouched());
}

TEST(Restore, RefusesAVmOfAnotherArchitecture) {
    ScratchDir dir;
    ExampleVm source;
    ASSERT_TRUE(snapshot::save(*source.vm, dir / "s"));
    test::SimVm arm(std::make_shared<CapabilitySpace>(), Arch::aarch64);
    auto r = snapshot::restore(*arm.vm, dir / "s", test::HandlerLog{}.handlers());
    ASSERT_FALSE(r);
    EXPECT_EQ(r.code(), Errc::invalid_argument);
    EXPECT_TRUE(arm.vm->reservations().empty());
}

TEST(Restore, Arm64VcpuStateRoundTrips) {
    ScratchDir dir;
    test::SimVm source(std::make_shared<CapabilitySpace>(), Arch::aarch64);
    ASSERT_TRUE(source.vm->ram().register_at(0x40000000, 0x10000));
    Arm64Registers regs;
    for (std::size_t i = 0; i < regs.x.size(); ++i) regs.x[i] = i * 3 + 1;
    regs.sp = 0x40008000;
    regs.pc = 0x40000100;
    ASSERT_TRUE(source.vcpu->set_registers(regs));
    Arm64SystemState sys;
    sys.vbar_el1 = 0x40001000;
    sys.tpidr_el1 = 9;
    ASSERT_TRUE(source.vcpu->set_system_state(sys));
    ASSERT_TRUE(snapshot::save(*source.vm, dir / "arm"));
    EXPECT_EQ(snapshot::inspect(dir / "arm")->arch, Arch::aarch64);
    test::SimVm target(std::make_shared<CapabilitySpace>(), Arch::aarch64);
    ASSERT_TRUE(snapshot::restore(*target.vm, dir / "arm", test::HandlerLog{}.handlers()));
    EXPECT_EQ(std::get<Arm64Registers>(*target.vcpu->registers()), regs);
    EXPECT_EQ(std::get<Arm64SystemState>(*target.vcpu->system_state()), sys);
}

}  // namespace
}  // namespace guestmem

namespace guestmem {
namespace {

// A backend whose vCPUs have no register state (VcpuBackend's defaults:
// Errc::unsupported), as a hypervisor without a register interface would.
class RegisterlessBackend final : public Backend {
public:
    BackendKind kind() const override { return BackendKind::sim; }
    Result<void> install(std::span<const MappedRun>) override { return {}; }
    void uninstall(std::span<const MappedRun>) noexcept override {}
    Result<std::unique_ptr<VcpuBackend>> create_vcpu(Vcpu&) override {
        struct NoRegisters final : VcpuBackend {
            GuestAddr instruction_pointer() override { return 0; }
        };
        return std::unique_ptr<VcpuBackend>(std::make_unique<NoRegisters>());
    }
};

TEST(Save, AVcpuWithoutRegisterStateIsSavedWithoutIt) {
    ScratchDir dir;
    Vm vm(std::make_unique<RegisterlessBackend>(), std::make_shared<CapabilitySpace>());
    ASSERT_TRUE(vm.init_memory());
    ASSERT_TRUE(vm.create_vcpu());
    ASSERT_TRUE(vm.ram().register_at(0x100000, 0x1000));
    std::memcpy(vm.frame_mappings(vm.reservations()[0].id)->front().frame->host(), "state", 5);
    auto info = snapshot::save(vm, dir / "s");
    ASSERT_TRUE(info) << info.error().message;
    EXPECT_EQ(info->vcpus, 0u);
    EXPECT_EQ(info->vcpus_without_state, 1u);
    EXPECT_EQ(snapshot::inspect(dir / "s")->vcpus_without_state, 1u);
    // Restored elsewhere: the vCPU is made, its state left as it is.
    EmptyVm target;
    const auto before = target.vcpu->registers();
    ASSERT_TRUE(snapshot::restore(*target.vm, dir / "s", test::HandlerLog{}.handlers()));
    EXPECT_EQ(target.vm->vcpu_count(), 1u);
    EXPECT_EQ(*target.vcpu->registers(), *before);
    EXPECT_EQ(read(*target.vcpu, 0x100000, 4), 0x74617473u);  // "stat"
}

}  // namespace
}  // namespace guestmem
