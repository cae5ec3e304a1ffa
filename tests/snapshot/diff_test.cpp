// SPDX-License-Identifier: BSD-2-Clause
// Diff snapshots and chains of them.
#include <gtest/gtest.h>

#include "snapshot_test_support.hpp"

namespace guestmem {
namespace {

using test::EmptyVm;
using test::ExampleVm;
using test::read;
using test::ScratchDir;

class DiffChain : public ::testing::TestWithParam<snapshot::RestoreMode> {};

TEST_P(DiffChain, FullThenTwoDiffsRestoresTheNewestOfEveryPage) {
    ScratchDir dir;
    ExampleVm source;
    Vcpu& cpu = *source.vcpu;
    ASSERT_TRUE(source.vm->start_dirty_tracking());
    ASSERT_TRUE(snapshot::save(*source.vm, dir / "0.snap"));

    // Step 1: change a RAM page, write a new one, add a reservation.
    ASSERT_TRUE(sim::write(cpu, test::kRam, 8, 0xa1));
    ASSERT_TRUE(sim::write(cpu, test::kRam + 0x5000, 8, 0xa2));
    auto added = source.vm->reserve_at(0x3000000, 0x2000, source.log.fault_for(0x3000000));
    ASSERT_TRUE(added);
    std::vector<Cap> frames{source.frame(), source.frame()};
    ASSERT_TRUE(source.vm->map_frames(*added, frames, 12));
    ASSERT_TRUE(sim::write(cpu, 0x3001000, 8, 0xa3));
    auto d1 = snapshot::save(*source.vm, dir / "1.snap", test::diff_of(dir / "0.snap"));
    ASSERT_TRUE(d1) << d1.error().message;
    EXPECT_TRUE(d1->diff);
    EXPECT_EQ(d1->parent, "0.snap");
    EXPECT_EQ(d1->stored_pages, 3u) << "two dirty RAM pages and the new reservation's non-zero page";

    // Step 2: change the page again, zero the other, change the shared
    // frame, free the unmapped device.
    ReservationId mmio = ReservationId::none;
    for (const ReservationInfo& i : source.vm->reservations()) {
        if (i.range.base == test::kMmio) mmio = i.id;
    }
    ASSERT_TRUE(source.vm->free(mmio));
    ASSERT_TRUE(sim::write(cpu, test::kRam, 8, 0xb1));
    ASSERT_TRUE(sim::write(cpu, test::kRam + 0x3ff000, 8, 0));
    ASSERT_TRUE(sim::write(cpu, test::kAlias + 0x10, 8, 0xb2));
    auto d2 = snapshot::save(*source.vm, dir / "2.snap", test::diff_of(dir / "1.snap"));
    ASSERT_TRUE(d2) << d2.error().message;
    EXPECT_EQ(d2->stored_pages, 2u) << "the zeroed page is recorded as zero, without data";
    EXPECT_EQ(d2->parent_id, d1->id);
    auto info = snapshot::inspect(dir / "2.snap");
    ASSERT_TRUE(info);
    EXPECT_EQ(info->parent, "1.snap");
    EXPECT_LT(info->file_bytes, std::filesystem::file_size(dir / "0.snap"));

    EmptyVm target;
    auto r = snapshot::restore(*target.vm, dir / "2.snap", test::HandlerLog{}.handlers(), GetParam());
    ASSERT_TRUE(r) << r.error().message;
    EXPECT_EQ(r->chain, (std::vector<std::filesystem::path>{dir / "2.snap", dir / "1.snap", dir / "0.snap"}));
    Vcpu& t = *target.vcpu;
    EXPECT_EQ(read(t, test::kRam), 0xb1u);
    EXPECT_EQ(read(t, test::kRam + 0x5000), 0xa2u);
    EXPECT_EQ(read(t, test::kRam + 0x3ff000), 0u) << "zeroed in the last diff";
    EXPECT_EQ(read(t, 0x3001000), 0xa3u);
    EXPECT_EQ(read(t, test::kAlias + 0x10), 0xb2u);
    EXPECT_EQ(read(t, test::kDevice + 0x3010), 0xb2u);
    EXPECT_EQ(read(t, source.anon + 0x1008), 0x4444u) << "unchanged since the full snapshot";
    EXPECT_EQ(read(t, test::kDevice), 0x5555u);
    EXPECT_EQ(target.vm->reservations().size(), source.vm->reservations().size());
    for (const ReservationInfo& i : target.vm->reservations()) {
        EXPECT_NE(i.range.base, test::kMmio) << "freed before the last diff";
    }
}

INSTANTIATE_TEST_SUITE_P(Modes, DiffChain,
                         ::testing::Values(snapshot::RestoreMode::eager, snapshot::RestoreMode::lazy));

TEST(Diff, AReplacedFrameAtTheSameAddressIsStoredWhole) {
    ScratchDir dir;
    test::SimVm source;
    auto id = source.vm->reserve_at(0x100000, 0x1000, test::returns(FaultResult::handled));
    Cap first = source.frame();
    ASSERT_TRUE(source.vm->map_frames(*id, std::span(&first, 1), 12));
    ASSERT_TRUE(sim::write(*source.vcpu, 0x100000, 8, 1));
    ASSERT_TRUE(source.vm->start_dirty_tracking());
    ASSERT_TRUE(snapshot::save(*source.vm, dir / "0"));
    ASSERT_TRUE(source.vm->free(*id));
    // A new frame at the same place, written from its capability (no dirty bit).
    id = source.vm->reserve_at(0x100000, 0x1000, test::returns(FaultResult::handled));
    Cap second = source.frame();
    std::memcpy(source.memory(second).data() + 8, "new", 4);
    ASSERT_TRUE(source.vm->map_frames(*id, std::span(&second, 1), 12));
    ASSERT_TRUE(snapshot::save(*source.vm, dir / "1", test::diff_of(dir / "0")));
    EmptyVm target;
    ASSERT_TRUE(snapshot::restore(*target.vm, dir / "1", test::HandlerLog{}.handlers()));
    EXPECT_EQ(read(*target.vcpu, 0x100000), 0u) << "not the old frame's contents";
    EXPECT_EQ(read(*target.vcpu, 0x100008, 4), 0x77656eu);
}

TEST(Diff, NeedsTrackingAndTheLastSnapshotAsParent) {
    ScratchDir dir;
    ExampleVm source;
    ASSERT_TRUE(snapshot::save(*source.vm, dir / "0"));
    auto r = snapshot::save(*source.vm, dir / "1", test::diff_of(dir / "0"));
    ASSERT_FALSE(r);
    EXPECT_EQ(r.code(), Errc::invalid_argument);
    ASSERT_TRUE(source.vm->start_dirty_tracking());
    ASSERT_TRUE(snapshot::save(*source.vm, dir / "a"));
    ASSERT_TRUE(snapshot::save(*source.vm, dir / "b"));
    r = snapshot::save(*source.vm, dir / "c", test::diff_of(dir / "a"));
    ASSERT_FALSE(r);
    EXPECT_EQ(r.code(), Errc::bad_snapshot);
    EXPECT_NE(r.error().message.find("last snapshot"), std::string::npos) << r.error().message;
    EXPECT_FALSE(std::filesystem::exists(dir / "c"));
    ScratchDir other;
    r = snapshot::save(*source.vm, other / "c", test::diff_of(dir / "b"));
    ASSERT_FALSE(r);
    EXPECT_EQ(r.code(), Errc::invalid_argument) << "the parent must be in the same folder";
    EXPECT_TRUE(snapshot::save(*source.vm, dir / "c", test::diff_of(dir / "b")));
}

TEST(Diff, RefusesAParentFromBeforeTrackingWasStoppedAndStartedAgain) {
    ScratchDir dir;
    ExampleVm source;
    ASSERT_TRUE(source.vm->start_dirty_tracking());
    ASSERT_TRUE(snapshot::save(*source.vm, dir / "0"));
    ASSERT_TRUE(sim::write(*source.vcpu, test::kRam + 0x8000, 8, 1));  // before the stop: its bit goes with it
    ASSERT_TRUE(source.vm->stop_dirty_tracking());
    ASSERT_TRUE(sim::write(*source.vcpu, test::kRam + 0x9000, 8, 2));  // while off: no bit at all
    ASSERT_TRUE(source.vm->start_dirty_tracking());
    auto r = snapshot::save(*source.vm, dir / "1", test::diff_of(dir / "0"));
    ASSERT_FALSE(r) << "a diff would restore 0 at both pages";
    EXPECT_EQ(r.code(), Errc::invalid_argument);
    EXPECT_NE(r.error().message.find("take a full snapshot first"), std::string::npos) << r.error().message;
    EXPECT_FALSE(std::filesystem::exists(dir / "1"));
    // A full snapshot in the new session is a parent again.
    ASSERT_TRUE(snapshot::save(*source.vm, dir / "2"));
    ASSERT_TRUE(sim::write(*source.vcpu, test::kRam + 0xa000, 8, 3));
    ASSERT_TRUE(snapshot::save(*source.vm, dir / "3", test::diff_of(dir / "2")));
    EmptyVm target;
    ASSERT_TRUE(snapshot::restore(*target.vm, dir / "3", test::HandlerLog{}.handlers()));
    EXPECT_EQ(read(*target.vcpu, test::kRam + 0x8000), 1u);
    EXPECT_EQ(read(*target.vcpu, test::kRam + 0x9000), 2u);
    EXPECT_EQ(read(*target.vcpu, test::kRam + 0xa000), 3u);
    // Saved without tracking, a snapshot is no parent.
    ASSERT_TRUE(source.vm->stop_dirty_tracking());
    ASSERT_TRUE(snapshot::save(*source.vm, dir / "4"));
    ASSERT_TRUE(source.vm->start_dirty_tracking());
    EXPECT_EQ(snapshot::save(*source.vm, dir / "5", test::diff_of(dir / "4")).code(), Errc::invalid_argument);
}

TEST(Diff, OfARestoredVmNamesTheRestoredFile) {
    ScratchDir dir;
    ExampleVm source;
    ASSERT_TRUE(snapshot::save(*source.vm, dir / "0"));
    EmptyVm middle;
    ASSERT_TRUE(snapshot::restore(*middle.vm, dir / "0", test::HandlerLog{}.handlers()));
    ASSERT_TRUE(middle.vm->start_dirty_tracking());
    ASSERT_TRUE(sim::write(*middle.vcpu, test::kRam + 0x8000, 8, 0xc1));  // maps RAM lazily, then writes
    auto d = snapshot::save(*middle.vm, dir / "1", test::diff_of(dir / "0"));
    ASSERT_TRUE(d) << d.error().message;
    EXPECT_EQ(d->stored_pages, 1u) << "frames restored from the parent are the parent's frames";
    EmptyVm target;
    ASSERT_TRUE(snapshot::restore(*target.vm, dir / "1", test::HandlerLog{}.handlers()));
    EXPECT_EQ(read(*target.vcpu, test::kRam + 0x8000), 0xc1u);
    EXPECT_EQ(read(*target.vcpu, test::kRam), 0x1111u);
}

TEST(Diff, AFullSaveWithTrackingCollectsTheDirtyPages) {
    ScratchDir dir;
    ExampleVm source;
    ASSERT_TRUE(source.vm->start_dirty_tracking());
    ASSERT_TRUE(sim::write(*source.vcpu, test::kRam, 8, 3));
    ASSERT_TRUE(snapshot::save(*source.vm, dir / "0"));
    auto bits = source.vm->dirty_pages(test::kRam, test::kRamBytes);
    ASSERT_TRUE(bits);
    EXPECT_EQ(bits->count(), 0u);
    auto d = snapshot::save(*source.vm, dir / "1", test::diff_of(dir / "0"));
    ASSERT_TRUE(d);
    EXPECT_EQ(d->stored_pages, 0u);
}

}  // namespace
}  // namespace guestmem
