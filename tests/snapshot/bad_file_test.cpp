// SPDX-License-Identifier: BSD-2-Clause
// Bad snapshot files and conflicting targets: a clear error, and the target
// VM keeps nothing of the restore.
#include <gtest/gtest.h>

#include <cstring>

#include "snapshot_test_support.hpp"

namespace guestmem {
namespace {

using test::EmptyVm;
using test::ExampleVm;
using test::read_file;
using test::ScratchDir;
using test::write_file;

struct BadFile : ::testing::Test {
    ScratchDir dir;
    ExampleVm source;
    std::vector<char> good;
    void SetUp() override {
        ASSERT_TRUE(source.vm->start_dirty_tracking());
        ASSERT_TRUE(snapshot::save(*source.vm, dir / "full.snap"));
        good = read_file(dir / "full.snap");
        ASSERT_GT(good.size(), 4096u);
    }
    // Restores `path` in both modes into fresh VMs; expects `code`, a message
    // naming the file and containing `reason`, and VMs left empty.
    void expect_refused(const std::filesystem::path& path, Errc code, const std::string& reason) {
        for (auto mode : {snapshot::RestoreMode::eager, snapshot::RestoreMode::lazy}) {
            EmptyVm target;
            auto r = snapshot::restore(*target.vm, path, test::HandlerLog{}.handlers(), mode);
            ASSERT_FALSE(r);
            EXPECT_EQ(r.code(), code) << r.error().message;
            EXPECT_NE(r.error().message.find(reason), std::string::npos) << r.error().message;
            EXPECT_NE(r.error().message.find("snapshot::restore"), std::string::npos) << r.error().message;
            EXPECT_TRUE(target.untouched());
            EXPECT_EQ(target.caps->frame_bytes_in_use(), 0u);
            EXPECT_EQ(target.caps->live_capabilities(), 0u);
        }
    }
    // A u64 field of the header (format.hpp): 40 layout_offset, 56 vcpu_offset, 72 data_offset.
    std::size_t field(std::size_t at) const {
        std::uint64_t v = 0;
        std::memcpy(&v, good.data() + at, 8);
        return static_cast<std::size_t>(v);
    }
    std::filesystem::path variant(const std::string& name, std::vector<char> bytes) {
        write_file(dir / name, bytes);
        return dir / name;
    }
};

TEST_F(BadFile, TruncatedAnywhere) {
    for (std::size_t size : {std::size_t{0}, std::size_t{7}, std::size_t{40}, std::size_t{200}, good.size() - 1}) {
        SCOPED_TRACE(size);
        auto path = variant("cut", std::vector<char>(good.begin(), good.begin() + static_cast<long>(size)));
        const std::string reason = size < 8 ? "not a snapshot" : "truncated";
        expect_refused(path, Errc::bad_snapshot, reason);
        auto info = snapshot::inspect(path);
        ASSERT_FALSE(info);
        EXPECT_EQ(info.code(), Errc::bad_snapshot);
        EXPECT_NE(info.error().message.find(path.string()), std::string::npos);
    }
}

TEST_F(BadFile, WrongChecksumInTheHeaderOrLayout) {
    for (std::size_t at : {std::size_t{20}, std::size_t{100}, field(40) + 3, field(56) + 10}) {
        SCOPED_TRACE(at);
        auto bytes = good;
        bytes[at] = static_cast<char>(bytes[at] ^ 0x10);
        expect_refused(variant("flip", bytes), Errc::bad_snapshot, "");
    }
    auto bytes = good;
    bytes[field(40) + 30] = static_cast<char>(bytes[field(40) + 30] ^ 1);
    auto info = snapshot::inspect(variant("flip", bytes));
    ASSERT_FALSE(info);
    EXPECT_NE(info.error().message.find("checksum"), std::string::npos) << info.error().message;
}

TEST_F(BadFile, CorruptPageData) {
    auto bytes = good;
    bytes[field(72) + 4096 + 5] ^= 1;  // in the second stored page
    auto path = variant("page", bytes);
    ASSERT_TRUE(snapshot::inspect(path)) << "inspect reads no page data";
    EmptyVm eager;
    auto r = snapshot::restore(*eager.vm, path, test::HandlerLog{}.handlers(), snapshot::RestoreMode::eager);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.code(), Errc::bad_snapshot);
    EXPECT_NE(r.error().message.find("corrupt"), std::string::npos) << r.error().message;
    EXPECT_TRUE(eager.untouched());
    EXPECT_EQ(eager.caps->live_capabilities(), 0u);
    // Lazily, the first access to the damaged reservation fails.
    EmptyVm lazy;
    ASSERT_TRUE(snapshot::restore(*lazy.vm, path, test::HandlerLog{}.handlers()));
    bool failed = false;
    for (GuestAddr a : {test::kRam, source.anon_ram, source.anon, test::kDevice})
        failed |= !sim::read(*lazy.vcpu, a, 8);
    EXPECT_TRUE(failed);
}

TEST_F(BadFile, NewerFormatVersion) {
    auto bytes = good;
    bytes[8] = 3;  // format_version, little-endian
    expect_refused(variant("v3", bytes), Errc::bad_snapshot, "format version 3 is newer");
}

TEST_F(BadFile, NotASnapshot) {
    expect_refused(variant("text", std::vector<char>(5000, 'x')), Errc::bad_snapshot, "not a snapshot");
    EmptyVm target;
    auto r = snapshot::restore(*target.vm, dir / "absent", test::HandlerLog{}.handlers());
    ASSERT_FALSE(r);
    EXPECT_EQ(r.code(), Errc::io_error);
    EXPECT_TRUE(target.untouched());
}

TEST_F(BadFile, MissingParent) {
    ASSERT_TRUE(sim::write(*source.vcpu, test::kRam, 8, 9));
    ASSERT_TRUE(snapshot::save(*source.vm, dir / "diff.snap", test::diff_of(dir / "full.snap")));
    std::filesystem::remove(dir / "full.snap");
    expect_refused(dir / "diff.snap", Errc::bad_snapshot, "is missing");
    ASSERT_TRUE(snapshot::inspect(dir / "diff.snap")) << "inspect reads one file";
}

TEST_F(BadFile, MismatchedParent) {
    ASSERT_TRUE(snapshot::save(*source.vm, dir / "diff.snap", test::diff_of(dir / "full.snap")));
    // Another full snapshot under the parent's name.
    ASSERT_TRUE(snapshot::save(*source.vm, dir / "full.snap"));
    expect_refused(dir / "diff.snap", Errc::bad_snapshot, "is another snapshot");
}

TEST_F(BadFile, CorruptParent) {
    ASSERT_TRUE(snapshot::save(*source.vm, dir / "diff.snap", test::diff_of(dir / "full.snap")));
    auto bytes = good;
    bytes[100] ^= 4;
    write_file(dir / "full.snap", bytes);
    expect_refused(dir / "diff.snap", Errc::bad_snapshot, "full.snap");
}

TEST_F(BadFile, LayoutConflictingWithTheTarget) {
    for (GuestAddr base : {test::kMmio, test::kPool + 0x100000, test::kRam + 0x1000}) {
        SCOPED_TRACE(base);
        EmptyVm target;
        auto mine = target.vm->reserve_at(base, 0x1000, test::returns(FaultResult::handled));
        ASSERT_TRUE(mine);
        auto r = snapshot::restore(*target.vm, dir / "full.snap", test::HandlerLog{}.handlers());
        ASSERT_FALSE(r);
        EXPECT_EQ(r.code(), Errc::overlap) << r.error().message;
        EXPECT_NE(r.error().message.find("full.snap"), std::string::npos) << r.error().message;
        ASSERT_EQ(target.vm->reservations().size(), 1u);
        EXPECT_EQ(target.vm->reservations()[0].id, *mine);
        EXPECT_TRUE(target.vm->pools().empty());
        EXPECT_TRUE(target.vm->ram().regions().empty());
    }
    EmptyVm pooled;
    ASSERT_TRUE(pooled.vm->make_anon(test::kMmio, 0x10000));
    auto r = snapshot::restore(*pooled.vm, dir / "full.snap", test::HandlerLog{}.handlers());
    ASSERT_FALSE(r);
    EXPECT_EQ(r.code(), Errc::overlap);
    EXPECT_TRUE(pooled.vm->reservations().empty());
    EXPECT_EQ(pooled.vm->pools().size(), 1u);
}

TEST_F(BadFile, RestoringTwiceIntoOneVmConflicts) {
    EmptyVm target;
    ASSERT_TRUE(snapshot::restore(*target.vm, dir / "full.snap", test::HandlerLog{}.handlers()));
    const auto before = target.vm->reservations().size();
    auto r = snapshot::restore(*target.vm, dir / "full.snap", test::HandlerLog{}.handlers());
    ASSERT_FALSE(r);
    EXPECT_EQ(r.code(), Errc::overlap);
    EXPECT_EQ(target.vm->reservations().size(), before);
}

TEST(SaveErrors, IoErrorsLeaveNothingAtThePath) {
    ExampleVm source;
    auto r = snapshot::save(*source.vm, "/nonexistent-dir/x.snap");
    ASSERT_FALSE(r);
    EXPECT_EQ(r.code(), Errc::io_error);
    EXPECT_NE(r.error().message.find("/nonexistent-dir/x.snap"), std::string::npos);
    EmptyVm uninitialised;
    auto created = Vm::create(BackendKind::sim, std::make_shared<CapabilitySpace>());
    ASSERT_TRUE(created);
    ScratchDir dir;
    auto n = snapshot::save(**created, dir / "x");
    ASSERT_FALSE(n);
    EXPECT_EQ(n.code(), Errc::not_initialized);
    EXPECT_FALSE(std::filesystem::exists(dir / "x"));
}

}  // namespace
}  // namespace guestmem
