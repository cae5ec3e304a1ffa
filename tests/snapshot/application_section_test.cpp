// SPDX-License-Identifier: BSD-2-Clause
// The application section (SaveOptions::application): kept inside the
// snapshot file, checked with it, and files of format version 1 (which have
// none) still read.
#include <gtest/gtest.h>

#include "snapshot_test_support.hpp"

namespace guestmem {
namespace {

using test::EmptyVm;
using test::ExampleVm;
using test::read_file;
using test::ScratchDir;
using test::write_file;

std::vector<std::byte> bytes_of(const std::string& text) {
    const auto* p = reinterpret_cast<const std::byte*>(text.data());
    return {p, p + text.size()};
}

TEST(ApplicationSection, ComesBackFromInspectAndRestoreAndIsChecked) {
    ScratchDir dir;
    ExampleVm source;
    ASSERT_TRUE(source.vm->start_dirty_tracking());
    snapshot::SaveOptions with;
    with.application = bytes_of("guest hello\narch x86_64\n");
    auto saved = snapshot::save(*source.vm, dir / "0", with);
    ASSERT_TRUE(saved) << saved.error().message;
    EXPECT_EQ(saved->application, with.application);
    auto info = snapshot::inspect(dir / "0");
    ASSERT_TRUE(info);
    EXPECT_EQ(info->application, with.application);
    snapshot::SaveOptions diff = test::diff_of(dir / "0");
    diff.application = bytes_of("the diff's own");
    ASSERT_TRUE(snapshot::save(*source.vm, dir / "1", diff));
    EmptyVm target;
    auto restored = snapshot::restore(*target.vm, dir / "1", test::HandlerLog{}.handlers());
    ASSERT_TRUE(restored) << restored.error().message;
    EXPECT_EQ(restored->info.application, diff.application) << "the newest file's";

    // A flipped byte of the section fails the file's checksum.
    auto bytes = read_file(dir / "0");
    bytes[bytes.size() - 3] ^= 1;  // the section is last
    write_file(dir / "corrupt", bytes);
    auto corrupt = snapshot::inspect(dir / "corrupt");
    ASSERT_FALSE(corrupt);
    EXPECT_NE(corrupt.error().message.find("wrong checksum"), std::string::npos) << corrupt.error().message;

    snapshot::SaveOptions huge;
    huge.application.resize((std::size_t{16} << 20) + 1);
    auto refused = snapshot::save(*source.vm, dir / "huge", huge);
    ASSERT_FALSE(refused);
    EXPECT_EQ(refused.code(), Errc::invalid_argument);
    EXPECT_FALSE(std::filesystem::exists(dir / "huge"));
}

TEST(ApplicationSection, FilesOfFormatVersionOneStillRestore) {
    // Saved by the version that wrote format 1 (the fuzzer's seed corpus).
    const std::filesystem::path v1 = GUESTMEM_SNAPSHOT_CORPUS "/full.snap";
    auto info = snapshot::inspect(v1);
    ASSERT_TRUE(info) << info.error().message;
    EXPECT_EQ(info->format_version, 1u);
    EXPECT_TRUE(info->application.empty());
    EmptyVm target;
    snapshot::DeviceHandlers handlers = test::HandlerLog{}.handlers();
    auto restored = snapshot::restore(*target.vm, v1, handlers, snapshot::RestoreMode::eager);
    ASSERT_TRUE(restored) << restored.error().message;
    EXPECT_FALSE(target.vm->reservations().empty());
}

}  // namespace
}  // namespace guestmem
