// SPDX-License-Identifier: BSD-2-Clause
// snapshot::merge: a chain written out as one full snapshot that restores
// as the chain does and stands in for its newest file.
#include <gtest/gtest.h>

#include "guestmem/guest_memory.hpp"
#include "snapshot_test_support.hpp"

namespace guestmem {
namespace {

using test::EmptyVm;
using test::ExampleVm;
using test::ScratchDir;
namespace fs = std::filesystem;

// Every byte the restored VM maps, in address order, with its rights.
std::vector<std::pair<GuestAddr, std::vector<std::byte>>> contents(Vm& vm) {
    std::vector<std::pair<GuestAddr, std::vector<std::byte>>> out;
    for (const ReservationInfo& info : vm.reservations()) {
        if (!info.mapped && !info.deferred) continue;
        EXPECT_TRUE(vm.ensure_mapped(info.id));
        std::vector<std::byte> bytes(info.range.size);
        EXPECT_TRUE(vm.visit_memory(info.range.base, info.range.size, Rights::read, [&](const GuestChunk& c) {
            std::copy(c.host.begin(), c.host.end(), bytes.begin() + static_cast<std::ptrdiff_t>(c.offset));
            return Result<void>{};
        }));
        out.emplace_back(info.range.base, std::move(bytes));
    }
    return out;
}

TEST(Merge, RestoresAsTheChainDoesAndStandsInForItsNewestFile) {
    ScratchDir dir;
    ExampleVm source;
    ASSERT_TRUE(source.vm->start_dirty_tracking());
    snapshot::SaveOptions first;
    first.application = {std::byte{1}, std::byte{2}};
    ASSERT_TRUE(snapshot::save(*source.vm, dir / "0", first));
    for (int i = 1; i <= 5; ++i) {
        ASSERT_TRUE(write_guest_value<std::uint64_t>(*source.vm, test::kRam + static_cast<GuestAddr>(i) * 0x3000, i));
        ASSERT_TRUE(write_guest_value<std::uint64_t>(*source.vm, test::kRam, 0));  // zeroed in a diff
        snapshot::SaveOptions o = test::diff_of(dir / std::to_string(i - 1));
        o.application = {std::byte(i)};
        ASSERT_TRUE(snapshot::save(*source.vm, dir / std::to_string(i), o));
    }
    auto merged = snapshot::merge(dir / "5", dir / "merged");
    ASSERT_TRUE(merged) << merged.error().message;
    EXPECT_FALSE(merged->diff);
    auto top = snapshot::inspect(dir / "5");
    ASSERT_TRUE(top);
    EXPECT_EQ(merged->id, top->id);
    EXPECT_EQ(merged->application, std::vector<std::byte>{std::byte{5}});
    EXPECT_EQ(merged->reservations.size(), top->reservations.size());
    EXPECT_EQ(merged->vcpus, top->vcpus);

    EmptyVm from_chain, from_merged;
    ASSERT_TRUE(snapshot::restore(*from_chain.vm, dir / "5", test::HandlerLog{}.handlers()));
    auto r = snapshot::restore(*from_merged.vm, dir / "merged", test::HandlerLog{}.handlers());
    ASSERT_TRUE(r) << r.error().message;
    EXPECT_EQ(r->chain.size(), 1u);
    EXPECT_EQ(contents(*from_merged.vm), contents(*from_chain.vm));
    EXPECT_EQ(from_merged.vcpu->registers().value(), from_chain.vcpu->registers().value());

    // In place: the newest file becomes the merged one, and the VM's next
    // diff names it as before.
    ASSERT_TRUE(snapshot::merge(dir / "5", dir / "5"));
    for (int i = 0; i <= 4; ++i) fs::remove(dir / std::to_string(i));
    ASSERT_TRUE(write_guest_value<std::uint64_t>(*source.vm, test::kRam + 0x100000, 0xabc));
    ASSERT_TRUE(snapshot::save(*source.vm, dir / "6", test::diff_of(dir / "5")));
    EmptyVm after;
    auto again = snapshot::restore(*after.vm, dir / "6", test::HandlerLog{}.handlers(), snapshot::RestoreMode::eager);
    ASSERT_TRUE(again) << again.error().message;
    EXPECT_EQ(read_guest_value<std::uint64_t>(*after.vm, test::kRam + 0x100000).value(), 0xabcu);
    EXPECT_EQ(read_guest_value<std::uint64_t>(*after.vm, test::kRam + 5 * 0x3000).value(), 5u);
    EXPECT_EQ(read_guest_value<std::uint64_t>(*after.vm, test::kRam).value(), 0u);
}

// Saves "0" (full) and diffs "1" .. `diffs` of `source`, each against the one before.
void save_chain(ExampleVm& source, const ScratchDir& dir, int diffs) {
    ASSERT_TRUE(source.vm->start_dirty_tracking());
    ASSERT_TRUE(snapshot::save(*source.vm, dir / "0"));
    for (int i = 1; i <= diffs; ++i) {
        ASSERT_TRUE(snapshot::save(*source.vm, dir / std::to_string(i), test::diff_of(dir / std::to_string(i - 1))));
    }
}

TEST(Merge, RefusesWhatARestoreRefusesAndLeavesNothing) {
    ScratchDir dir;
    ExampleVm source;
    ASSERT_NO_FATAL_FAILURE(save_chain(source, dir, 1));
    fs::remove(dir / "0");
    auto r = snapshot::merge(dir / "1", dir / "m");
    ASSERT_FALSE(r);
    EXPECT_EQ(r.code(), Errc::bad_snapshot);
    EXPECT_NE(r.error().message.find("missing"), std::string::npos) << r.error().message;
    EXPECT_FALSE(fs::exists(dir / "m"));
    EXPECT_EQ(snapshot::merge(dir / "1", dir.path / "").code(), Errc::invalid_argument);
    EXPECT_EQ(snapshot::merge(dir / "absent", dir / "m").code(), Errc::io_error);
}

TEST(Merge, RefusesToReplaceAParentInTheChain) {
    ScratchDir dir;
    ExampleVm source;
    ASSERT_NO_FATAL_FAILURE(save_chain(source, dir, 2));
    const auto before = test::read_file(dir / "1");
    auto r = snapshot::merge(dir / "2", dir / "1");
    ASSERT_FALSE(r);
    EXPECT_EQ(r.code(), Errc::invalid_argument);
    EXPECT_NE(r.error().message.find("is a parent in the chain"), std::string::npos) << r.error().message;
    EXPECT_EQ(test::read_file(dir / "1"), before);
    EmptyVm target;
    EXPECT_TRUE(snapshot::restore(*target.vm, dir / "2", test::HandlerLog{}.handlers()));
}

}  // namespace
}  // namespace guestmem
