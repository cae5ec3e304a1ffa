// SPDX-License-Identifier: BSD-2-Clause
// Snapshots of VMs on the hypervisor backends (KVM, the emulator): a booted
// vCPU's whole state and RAM written from the VMM's side, through a diff,
// into a new VM of the same backend. Skips a backend this host lacks.
#include <gtest/gtest.h>

#include <array>

#include "guestmem/backend_registry.hpp"
#include "guestmem/guest_memory.hpp"
#include "snapshot_test_support.hpp"

namespace guestmem {
namespace {

using test::ScratchDir;

class HypervisorSnapshot : public ::testing::TestWithParam<BackendKind> {
protected:
    std::unique_ptr<Vm> make() {
        auto vm = Vm::create(GetParam(), std::make_shared<CapabilitySpace>(), Arch::x86_64);
        if (!vm) return nullptr;
        EXPECT_TRUE((*vm)->init_memory());
        return std::move(*vm);
    }
};

TEST_P(HypervisorSnapshot, BootedVcpuAndRamThroughADiff) {
    auto source = make();
    if (!source) GTEST_SKIP() << to_string(GetParam()) << " is not available here";
    ASSERT_TRUE(source->ram().register_at(0, std::uint64_t{4} << 20));
    auto cpu = source->create_vcpu();
    ASSERT_TRUE(cpu);
    BootSpec spec;
    spec.entry = 0x10000;
    spec.stack = 0x80000;
    spec.x86_tables = 0x1000;
    spec.identity_bytes = std::uint64_t{1} << 30;
    ASSERT_TRUE((*cpu)->boot(spec));
    ASSERT_TRUE(write_guest_value<std::uint64_t>(*source, 0x200000, 0x1234));
    const bool tracks = source->start_dirty_tracking().ok();
    ScratchDir dir;
    ASSERT_TRUE(snapshot::save(*source, dir / "0"));
    ASSERT_TRUE(write_guest_value<std::uint64_t>(*source, 0x300008, 0x5678));
    snapshot::SaveOptions diff;
    diff.parent = dir / "0";
    const auto last = tracks ? dir / "1" : dir / "0";
    if (tracks) {
        auto d = snapshot::save(*source, last, diff);
        ASSERT_TRUE(d) << d.error().message;
        EXPECT_EQ(d->stored_pages, 1u);
    }

    auto target = make();
    ASSERT_TRUE(target);
    auto r = snapshot::restore(*target, last, test::HandlerLog{}.handlers());
    ASSERT_TRUE(r) << r.error().message;
    ASSERT_EQ(target->vcpu_count(), 1u);
    EXPECT_EQ(*target->vcpu(0)->registers(), *(*cpu)->registers());
    EXPECT_EQ(*target->vcpu(0)->system_state(), *(*cpu)->system_state());
    EXPECT_EQ(*read_guest_value<std::uint64_t>(*target, 0x200000), 0x1234u);
    if (tracks) {
        EXPECT_EQ(*read_guest_value<std::uint64_t>(*target, 0x300008), 0x5678u);
    }
    // The boot tables the architecture layer wrote came back too.
    std::array<std::byte, 64> mine{}, theirs{};
    ASSERT_TRUE(read_guest(*source, 0x1000, mine));
    ASSERT_TRUE(read_guest(*target, 0x1000, theirs));
    EXPECT_EQ(mine, theirs);
}

INSTANTIATE_TEST_SUITE_P(Backends, HypervisorSnapshot, ::testing::Values(BackendKind::kvm, BackendKind::emu),
                         [](const auto& info) { return std::string(to_string(info.param)); });

}  // namespace
}  // namespace guestmem
