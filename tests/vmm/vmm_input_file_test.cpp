// SPDX-License-Identifier: BSD-2-Clause
// Files are checked for what they are before they are read (issue 20,
// item 3): a FIFO given as an image or a script is refused at once instead
// of blocking the VMM until a writer comes; so are directories and devices.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <cstdlib>

#include <filesystem>
#include <string>

#include "vmm_child.hpp"

namespace {

namespace fs = std::filesystem;
using vmm_test::Ended;
using vmm_test::run_child;

/// A fresh folder holding a FIFO named `name`.
std::string make_fifo(const std::string& name) {
    const fs::path dir = fs::path(::testing::TempDir()) / ("guestmem-vmm-fifo-" + std::to_string(::getpid()));
    fs::create_directories(dir);
    const fs::path fifo = dir / name;
    fs::remove(fifo);
    EXPECT_EQ(::mkfifo(fifo.c_str(), 0600), 0) << fifo;
    return fifo.string();
}

/// The VMM must answer within seconds: a blocking open would wait for a
/// writer that never comes (the limit kills it then, and the test fails).
void expect_not_regular(const std::vector<std::string>& args, const std::string& path) {
    const Ended e = run_child(args, std::chrono::seconds(20));
    ASSERT_FALSE(e.hung) << "blocked on " << path << ":\n" << e.output;
    EXPECT_EQ(e.exit_status, 2) << e.output;
    EXPECT_NE(e.output.find("not a regular file"), std::string::npos) << e.output;
    EXPECT_NE(e.output.find(path), std::string::npos) << "the message names the file:\n" << e.output;
    EXPECT_EQ(e.output.find("guestmem-vmm: backend "), std::string::npos) << e.output;
}

TEST(VmmInputFile, AFifoAsImageIsRefusedAtOnce) {
    const std::string fifo = make_fifo("image.bin");
    expect_not_regular({"run", "--image", fifo}, fifo);
    expect_not_regular({"run", "--image", fifo, "--arch", "aarch64"}, fifo);
}

TEST(VmmInputFile, AFifoAsScriptIsRefusedAtOnce) {
    const std::string fifo = make_fifo("script.txt");
    expect_not_regular({"run", "--backend", "sim", "--script", fifo}, fifo);
}

TEST(VmmInputFile, AFifoAsBundledGuestIsRefusedAtOnce) {
    // GUESTMEM_GUEST_DIR says where the bundled guests are.
    const std::string fifo = make_fifo("hello.bin");
    ASSERT_EQ(::setenv("GUESTMEM_GUEST_DIR", fs::path(fifo).parent_path().c_str(), 1), 0);
    expect_not_regular({"run", "--guest", "hello", "--arch", "x86_64"}, fifo);
    ::unsetenv("GUESTMEM_GUEST_DIR");
}

TEST(VmmInputFile, DirectoriesAndDevicesAsScriptOrImageAreRefused) {
    const std::string dir = ::testing::TempDir();
    for (const std::string& path : {dir, std::string("/dev/zero"), std::string("/dev/null")}) {
        SCOPED_TRACE(path);
        expect_not_regular({"run", "--backend", "sim", "--script", path}, path);
        expect_not_regular({"run", "--image", path}, path);
    }
}

TEST(VmmInputFile, AScriptThatCannotBeOpenedIsAUsageError) {
    const Ended e = run_child({"run", "--backend", "sim", "--script", "/nonexistent/script.txt"});
    EXPECT_EQ(e.exit_status, 2) << e.output;
    EXPECT_NE(e.output.find("cannot open --script /nonexistent/script.txt"), std::string::npos) << e.output;
}

}  // namespace
