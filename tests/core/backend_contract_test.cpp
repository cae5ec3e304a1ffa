// SPDX-License-Identifier: BSD-2-Clause
// What the core asks of a hypervisor backend: install exactly the mapped runs,
// uninstall exactly them on free, and nothing stays installed after a failure.
#include <gtest/gtest.h>

#include <algorithm>

#include "test_support.hpp"

namespace guestmem {
namespace {

using test::CountingHandler;
using test::LogCapture;

/// A backend that records what is installed, and can refuse an install.
struct Recording {
    std::vector<MappedRun> live;
    int installs = 0, uninstalls = 0;
    bool refuse_next = false;
};

bool same(const MappedRun& a, const MappedRun& b) {
    return a.gpa == b.gpa && a.size == b.size && a.host == b.host && a.rights == b.rights;
}

class RecordingBackend final : public Backend {
public:
    explicit RecordingBackend(std::shared_ptr<Recording> state) : state_(std::move(state)) {}
    BackendKind kind() const override { return BackendKind::kvm; }  // anything but the sim backend
    Result<void> install(std::span<const MappedRun> runs) override {
        ++state_->installs;
        if (std::exchange(state_->refuse_next, false)) return fail(Errc::backend_error, "the test backend refused");
        state_->live.insert(state_->live.end(), runs.begin(), runs.end());
        return {};
    }
    void uninstall(std::span<const MappedRun> runs) noexcept override {
        ++state_->uninstalls;
        for (const MappedRun& run : runs) {
            auto it = std::find_if(state_->live.begin(), state_->live.end(),
                                   [&](const MappedRun& r) { return same(r, run); });
            if (it == state_->live.end()) {
                ADD_FAILURE() << "uninstalling a run that is not installed at 0x" << std::hex << run.gpa;
            } else {
                state_->live.erase(it);
            }
        }
    }
    Result<std::unique_ptr<VcpuBackend>> create_vcpu(Vcpu&) override {
        struct FixedIp final : VcpuBackend {
            GuestAddr instruction_pointer() override { return 0xabc; }
        };
        return std::unique_ptr<VcpuBackend>(std::make_unique<FixedIp>());
    }

private:
    std::shared_ptr<Recording> state_;
};

struct BackendTest : ::testing::Test {
    std::shared_ptr<CapabilitySpace> caps = std::make_shared<CapabilitySpace>();
    std::shared_ptr<Recording> rec = std::make_shared<Recording>();
    std::unique_ptr<Vm> vm = std::make_unique<Vm>(std::make_unique<RecordingBackend>(rec), caps);
    Vcpu* vcpu = nullptr;
    void SetUp() override {
        ASSERT_TRUE(vm->init_memory());
        vcpu = *vm->create_vcpu();
    }
    Cap frame(FrameSize size = FrameSize::k4KiB) { return *caps->allocate_frame(size); }
};

TEST_F(BackendTest, MapInstallsTheRunsAndFreeUninstallsExactlyThem) {
    // 4 KiB read-write, 2 MiB read-only, 4 KiB without read (not installed).
    auto id = vm->reserve_at(0x1ff000, 0x202000, CountingHandler{}.handler());
    const Cap a = frame(), b = frame(FrameSize::k2MiB), c = frame();
    ASSERT_TRUE(vm->map(*id, [&](GuestAddr addr) {
        if (addr == 0x1ff000) return FrameRequest{a, Rights::all, addr, 12};
        if (addr == 0x200000) return FrameRequest{b, Rights::read, addr, 21};
        return FrameRequest{c, Rights::write, addr, 12};
    }));
    EXPECT_EQ(rec->installs, 1) << "one install per mapping: all or nothing";
    const auto runs = vm->reservations().at(0).runs;
    ASSERT_EQ(runs.size(), 2u);
    ASSERT_EQ(rec->live.size(), 2u);
    for (std::size_t i = 0; i < runs.size(); ++i) EXPECT_TRUE(same(rec->live[i], runs[i]));
    EXPECT_EQ(rec->live[0].gpa, 0x1ff000u);
    EXPECT_EQ(rec->live[0].rights, Rights::read_write);
    EXPECT_EQ(rec->live[0].host, caps->frame_memory(a)->data());
    EXPECT_EQ(rec->live[1].gpa, 0x200000u);
    EXPECT_EQ(rec->live[1].size, 0x200000u);
    EXPECT_EQ(rec->live[1].rights, Rights::read);

    ASSERT_TRUE(vm->free(*id));
    EXPECT_TRUE(rec->live.empty()) << "every frame of every size is unmapped";
    EXPECT_EQ(rec->uninstalls, 1);
}

TEST_F(BackendTest, ARefusedInstallLeavesTheReservationUnmappedAndMappableAgain) {
    LogCapture log;
    CountingHandler device;
    auto id = vm->reserve_at(0x10000, 0x2000, device.handler());
    const Cap f[2] = {frame(), frame()};
    rec->refuse_next = true;
    auto mapped = vm->map_frames(*id, f, 12);
    ASSERT_FALSE(mapped);
    EXPECT_EQ(mapped.code(), Errc::backend_error);
    EXPECT_TRUE(log.has_error("Vm::map_frames", {"refused"})) << log.dump();
    EXPECT_TRUE(rec->live.empty());
    EXPECT_FALSE(vm->reservations().at(0).mapped);
    Access access{0x10000, 4, true, 1};
    EXPECT_TRUE(vm->dispatch(*vcpu, access).completed());
    EXPECT_EQ(*device.calls, 1) << "not mapped in the core either";
    EXPECT_EQ(test::peek(caps->frame_memory(f[0])->data(), 4), 0u);

    ASSERT_TRUE(vm->map_frames(*id, f, 12));
    EXPECT_FALSE(rec->live.empty());
    Access again{0x10000, 4, true, 1};
    EXPECT_TRUE(vm->dispatch(*vcpu, again).completed());
    EXPECT_EQ(*device.calls, 1);
    EXPECT_EQ(test::peek(caps->frame_memory(f[0])->data(), 4), 1u);
}

TEST_F(BackendTest, ARejectedIteratorInstallsNothing) {
    LogCapture log;
    auto id = vm->reserve_at(0x10000, 0x3000, CountingHandler{}.handler());
    const Cap good = frame();
    ASSERT_FALSE(vm->map(*id, [&](GuestAddr addr) {
        return FrameRequest{addr == 0x12000 ? kNullCap : good, Rights::all, addr, 12};
    }));
    EXPECT_EQ(rec->installs, 0) << "validation happens before the hypervisor is touched";
    EXPECT_TRUE(rec->live.empty());
}

TEST_F(BackendTest, DestroyingTheVmUninstallsEverything) {
    for (GuestAddr base : {0x100000ull, 0x200000ull, 0x400000ull}) {
        auto id = vm->reserve_at(base, 0x1000, CountingHandler{}.handler());
        const Cap f[] = {frame()};
        ASSERT_TRUE(vm->map_frames(*id, f, 12));
    }
    EXPECT_EQ(rec->live.size(), 3u);
    vm.reset();
    EXPECT_TRUE(rec->live.empty());
    EXPECT_EQ(rec->uninstalls, 3);
}

TEST_F(BackendTest, ADeferredMappingIsInstalledAtTheFirstFault) {
    vm->set_deferred_mapping(true);
    auto id = vm->reserve_at(0x10000, 0x1000, CountingHandler{}.handler());
    const Cap f[] = {frame()};
    ASSERT_TRUE(vm->map_frames(*id, f, 12));
    EXPECT_EQ(rec->installs, 0);
    Access access{0x10000, 8, false, 0};
    EXPECT_TRUE(vm->dispatch(*vcpu, access).completed());
    EXPECT_EQ(rec->installs, 1);
    EXPECT_EQ(rec->live.size(), 1u);
}

TEST_F(BackendTest, ErrorReportsUseTheBackendsInstructionPointer) {
    LogCapture log;
    Access access{0x5000, 2, false, 0};
    const AccessOutcome outcome = vm->dispatch(*vcpu, access);
    ASSERT_TRUE(outcome.failure);
    EXPECT_EQ(outcome.failure->ip, 0xabcu);
}

TEST_F(BackendTest, SimAccessesNeedASimVcpu) {
    LogCapture log;
    auto value = sim::read(*vcpu, 0x1000, 4);
    ASSERT_FALSE(value);
    EXPECT_EQ(value.code(), Errc::unsupported);
    EXPECT_EQ(sim::write(*vcpu, 0x1000, 4, 0).code(), Errc::unsupported);
    EXPECT_EQ(sim::instruction_pointer(*vcpu).code(), Errc::unsupported);
    EXPECT_TRUE(log.has_error("sim::read", {"not on the sim backend"})) << log.dump();
}

}  // namespace
}  // namespace guestmem
