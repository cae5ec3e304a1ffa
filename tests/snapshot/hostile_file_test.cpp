// SPDX-License-Identifier: BSD-2-Clause
// Files that are not what a snapshot path should name (FIFOs, directories),
// diff chains longer than the limit of open files, and the temporary files
// killed saves leave behind.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/file.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <future>

#include "guestmem/guest_memory.hpp"
#include "snapshot_test_support.hpp"

namespace guestmem {
namespace {

using test::EmptyVm;
using test::ExampleVm;
using test::ScratchDir;
using test::SimVm;
namespace fs = std::filesystem;

// Runs `call` on another thread and fails (instead of hanging the suite)
// if it has not returned within 10 s.
template <class Call>
auto within_seconds(Call call) {
    auto result = std::async(std::launch::async, std::move(call));
    if (result.wait_for(std::chrono::seconds(10)) != std::future_status::ready) {
        ADD_FAILURE() << "the call blocked";
        std::abort();  // a thread blocked for ever in open() cannot be joined
    }
    return result.get();
}

TEST(HostileFiles, AFifoIsRefusedAtOnceAsSnapshotParentOrImage) {
    ScratchDir dir;
    const fs::path fifo = dir / "pipe";
    ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
    test::LogCapture log;
    auto info = within_seconds([&] { return snapshot::inspect(fifo); });
    ASSERT_FALSE(info);
    EXPECT_EQ(info.code(), Errc::invalid_argument);
    EXPECT_NE(info.error().message.find("not a regular file"), std::string::npos) << info.error().message;
    EXPECT_NE(info.error().message.find("named pipe"), std::string::npos) << info.error().message;

    EmptyVm target;
    auto restored = within_seconds([&] { return snapshot::restore(*target.vm, fifo, test::HandlerLog{}.handlers()); });
    ASSERT_FALSE(restored);
    EXPECT_EQ(restored.code(), Errc::invalid_argument);
    EXPECT_TRUE(target.untouched());

    // A diff whose parent has become a FIFO: the chain is refused.
    ExampleVm source;
    ASSERT_TRUE(source.vm->start_dirty_tracking());
    ASSERT_TRUE(snapshot::save(*source.vm, dir / "0"));
    ASSERT_TRUE(snapshot::save(*source.vm, dir / "1", test::diff_of(dir / "0")));
    fs::remove(dir / "0");
    ASSERT_EQ(::mkfifo((dir / "0").c_str(), 0600), 0);
    EmptyVm child;
    restored = within_seconds([&] { return snapshot::restore(*child.vm, dir / "1", test::HandlerLog{}.handlers()); });
    ASSERT_FALSE(restored);
    EXPECT_NE(restored.error().message.find("not a regular file"), std::string::npos) << restored.error().message;
    EXPECT_TRUE(child.untouched());
    // ... and so is a diff saved against it.
    auto diff = within_seconds([&] { return snapshot::save(*source.vm, dir / "2", test::diff_of(dir / "0")); });
    ASSERT_FALSE(diff);

    auto image = within_seconds([&] { return read_image_file(fifo.string()); });
    ASSERT_FALSE(image);
    EXPECT_NE(image.error().message.find("not a regular file"), std::string::npos) << image.error().message;
    EXPECT_EQ(snapshot::inspect(dir.path).code(), Errc::invalid_argument) << "a directory";
}

// Lowers the soft limit of open files while it lives.
struct OpenFileLimit {
    rlimit saved{};
    explicit OpenFileLimit(rlim_t files) {
        ::getrlimit(RLIMIT_NOFILE, &saved);
        rlimit limited = saved;
        limited.rlim_cur = files;
        ::setrlimit(RLIMIT_NOFILE, &limited);
    }
    ~OpenFileLimit() { ::setrlimit(RLIMIT_NOFILE, &saved); }
};

TEST(LongChain, MoreFilesThanTheOpenFileLimitRestoreLazilyAndEagerly) {
    ScratchDir dir;
    SimVm source;
    constexpr GuestAddr kBase = 0x100000;
    constexpr std::uint64_t kPages = 64;
    ASSERT_TRUE(source.vm->ram().register_at(kBase, kPages * kPageSize));
    ASSERT_TRUE(source.vm->start_dirty_tracking());
    ASSERT_TRUE(snapshot::save(*source.vm, dir / "0"));
    // 1,100 diffs (what a long --snapshot-every run makes), each writing one
    // page: the newest copy of page p is in the newest diff that wrote it.
    constexpr int kDiffs = 1100;
    for (int i = 1; i <= kDiffs; ++i) {
        const GuestAddr at = kBase + static_cast<GuestAddr>(i % kPages) * kPageSize;
        ASSERT_TRUE(write_guest_value<std::uint64_t>(*source.vm, at, static_cast<std::uint64_t>(i)));
        auto saved = snapshot::save(*source.vm, dir / std::to_string(i), test::diff_of(dir / std::to_string(i - 1)));
        ASSERT_TRUE(saved) << i << ": " << saved.error().message;
    }
    const OpenFileLimit limit(256);  // well below the chain's length
    for (auto mode : {snapshot::RestoreMode::lazy, snapshot::RestoreMode::eager}) {
        EmptyVm target;
        auto restored =
            snapshot::restore(*target.vm, dir / std::to_string(kDiffs), test::HandlerLog{}.handlers(), mode);
        ASSERT_TRUE(restored) << restored.error().message;
        EXPECT_EQ(restored->chain.size(), static_cast<std::size_t>(kDiffs + 1));
        for (std::uint64_t p = 0; p < kPages; ++p) {
            // The last i <= kDiffs with i % kPages == p.
            const std::uint64_t expected = kDiffs - ((kDiffs - p) % kPages);
            EXPECT_EQ(read_guest_value<std::uint64_t>(*target.vm, kBase + p * kPageSize).value(), expected) << p;
        }
    }
    // The chain merged into one file restores the same.
    ASSERT_TRUE(snapshot::merge(dir / std::to_string(kDiffs), dir / "merged"));
    EmptyVm target;
    ASSERT_TRUE(snapshot::restore(*target.vm, dir / "merged", test::HandlerLog{}.handlers()));
    EXPECT_EQ(read_guest_value<std::uint64_t>(*target.vm, kBase + (kDiffs % kPages) * kPageSize).value(),
              static_cast<std::uint64_t>(kDiffs));
}

TEST(LongChain, AFileReplacedAfterTheRestoreReadItIsRefusedWhenReopened) {
    ScratchDir dir;
    SimVm source;
    constexpr GuestAddr kBase = 0x100000;
    ASSERT_TRUE(source.vm->ram().register_at(kBase, 0x1000 * 100));
    ASSERT_TRUE(source.vm->start_dirty_tracking());
    ASSERT_TRUE(snapshot::save(*source.vm, dir / "0"));
    ASSERT_TRUE(write_guest_value<std::uint64_t>(*source.vm, kBase, 42));  // only in diff 1
    for (int i = 1; i <= 80; ++i) {
        if (i > 1) {
            ASSERT_TRUE(write_guest_value<std::uint64_t>(*source.vm, kBase + i * 0x1000, 1));
        }
        ASSERT_TRUE(snapshot::save(*source.vm, dir / std::to_string(i), test::diff_of(dir / std::to_string(i - 1))));
    }
    EmptyVm target;
    auto restored = snapshot::restore(*target.vm, dir / "80", test::HandlerLog{}.handlers());
    ASSERT_TRUE(restored) << restored.error().message;
    // Diff 1 is past the 64 files a chain keeps open: replace it by a copy
    // (another inode with the same bytes would pass every check but identity).
    fs::copy_file(dir / "1", dir / "1.copy");
    fs::rename(dir / "1.copy", dir / "1");
    test::LogCapture log;
    auto v = read_guest_value<std::uint64_t>(*target.vm, kBase);
    EXPECT_FALSE(v) << "read from a file that is not the one restored";
    EXPECT_TRUE(log.has_error_with({"replaced"})) << log.dump();
}

// Makes a file named as a save's temporary file, `age` seconds old.
fs::path stale_file(const ScratchDir& dir, const std::string& name, int age) {
    const fs::path p = dir / name;
    test::write_file(p, std::vector<char>(100, 'x'));
    const timespec times[2] = {{::time(nullptr) - age, 0}, {::time(nullptr) - age, 0}};
    ::utimensat(AT_FDCWD, p.c_str(), times, 0);
    return p;
}

TEST(TempFiles, SaveAndRestoreRemoveThoseOfDeadSavesOnly) {
    ScratchDir dir;
    const fs::path dead = stale_file(dir, "a.snap.guestmem-tmp-Ab12Cd", 60);
    const fs::path young = stale_file(dir, "b.snap.guestmem-tmp-Ef34Gh", 0);
    const fs::path locked = stale_file(dir, "c.snap.guestmem-tmp-Ij56Kl", 60);
    const fs::path other = stale_file(dir, "notes.tmp-123456", 60);
    const fs::path near_miss = stale_file(dir, "d.snap.guestmem-tmp-toolong", 60);
    // A save still writing holds its file's lock.
    const int holder = ::open(locked.c_str(), O_RDONLY | O_CLOEXEC);
    ASSERT_GE(holder, 0);
    ASSERT_EQ(::flock(holder, LOCK_EX), 0);

    ExampleVm source;
    ASSERT_TRUE(snapshot::save(*source.vm, dir / "x.snap"));
    EXPECT_FALSE(fs::exists(dead)) << "its writer is gone";
    EXPECT_TRUE(fs::exists(young)) << "may be between create and lock";
    EXPECT_TRUE(fs::exists(locked)) << "its writer lives";
    EXPECT_TRUE(fs::exists(other)) << "not a save's file";
    EXPECT_TRUE(fs::exists(near_miss)) << "not a save's file";
    ::close(holder);
    const fs::path dead_again = stale_file(dir, "x.snap.guestmem-tmp-Zz99Yy", 60);
    EmptyVm target;
    ASSERT_TRUE(snapshot::restore(*target.vm, dir / "x.snap", test::HandlerLog{}.handlers()));
    EXPECT_FALSE(fs::exists(dead_again));
    EXPECT_FALSE(fs::exists(locked)) << "unlocked now";
}

}  // namespace
}  // namespace guestmem
