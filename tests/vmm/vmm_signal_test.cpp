// SPDX-License-Identifier: BSD-2-Clause
// SIGINT and SIGTERM stop a running guest cleanly (issue 20, item 9): the
// snapshot being written is completed, the VMM says what happened and exits
// with 128 + the signal's number, and every snapshot file left is whole.
#include <gtest/gtest.h>
#include <unistd.h>

#include <csignal>
#include <filesystem>
#include <string>
#include <thread>

#include "guestmem/backend_registry.hpp"
#include "test_guests.hpp"
#include "vmm_child.hpp"

namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using vmm_test::Child;
using vmm_test::Ended;
using vmm_test::run_child;

fs::path fresh_dir(const std::string& name) {
    const fs::path dir = fs::path(::testing::TempDir()) / ("guestmem-vmm-signal-" + name);
    fs::remove_all(dir);
    return dir;
}

/// Waits until `file` exists (the run has got going), at most `limit`.
bool wait_for(const fs::path& file, std::chrono::seconds limit) {
    const auto deadline = std::chrono::steady_clock::now() + limit;
    while (!fs::exists(file)) {
        if (std::chrono::steady_clock::now() >= deadline) return false;
        std::this_thread::sleep_for(10ms);
    }
    return true;
}

/// Every snapshot in `dir` is complete (snapshot-info reads it whole), none
/// is left half-written (no temporary file), and LATEST names one of them.
void expect_whole_snapshots(const fs::path& dir) {
    std::size_t snapshots = 0;
    for (const auto& entry : fs::directory_iterator(dir)) {
        const std::string name = entry.path().filename().string();
        EXPECT_EQ(name.find("tmp-"), std::string::npos) << "a temporary file is left: " << name;
        if (entry.path().extension() != ".gms") continue;
        ++snapshots;
        const Ended info = run_child({"snapshot-info", entry.path().string()});
        EXPECT_EQ(info.exit_status, 0) << name << ":\n" << info.output;
    }
    EXPECT_GE(snapshots, 2u) << "the full snapshot and at least one diff";
    ASSERT_TRUE(fs::is_symlink(dir / "LATEST"));
    EXPECT_TRUE(fs::exists(dir / fs::read_symlink(dir / "LATEST")));
}

/// Runs `args` (which snapshot into `dir`), sends `signal_number` once the
/// second snapshot is there and `after` has passed, and checks the clean stop.
void expect_clean_stop(std::vector<std::string> args, const fs::path& dir, int signal_number, const char* name,
                       std::chrono::milliseconds after = 800ms) {
    args.insert(args.end(), {"--snapshot-every", "20", dir.string()});
    Child child(args, vmm_test::output_file());
    ASSERT_TRUE(child.started());
    ASSERT_TRUE(wait_for(dir / "snap-0001.gms", 30s)) << "the run did not get going";
    std::this_thread::sleep_for(after);
    child.signal(signal_number);
    const Ended e = child.wait(60s);
    ASSERT_FALSE(e.hung) << e.output;
    EXPECT_EQ(e.signal, 0) << "killed by signal " << e.signal << " instead of stopping:\n" << e.output;
    EXPECT_EQ(e.exit_status, 128 + signal_number) << e.output;
    EXPECT_NE(e.output.find(std::string("guestmem-vmm: stopped by ") + name), std::string::npos) << e.output;
    EXPECT_NE(e.output.find(std::string("vm0: stopped by ") + name), std::string::npos) << e.output;
    EXPECT_NE(e.output.find("Faults by reservation:"), std::string::npos) << "the report is printed:\n" << e.output;
    expect_whole_snapshots(dir);
    // And the last one restores: a clean stop leaves a usable series.
    const Ended restored = run_child({"restore", (dir / "LATEST").string(), "--timeout", "0.5"}, 60s);
    EXPECT_TRUE(restored.exit_status == 0 || restored.exit_status == 3)
        << "the guest goes on until it ends or times out:\n"
        << restored.output;
    EXPECT_NE(restored.output.find("Restored "), std::string::npos) << restored.output;
    fs::remove_all(dir);
}

bool emu_runs_x86_64() {
    return static_cast<bool>(guestmem::choose_backend(guestmem::BackendKind::emu, guestmem::Arch::x86_64));
}

std::string spinning_guest() {
    return vmm_test::write_spinning_guest(::testing::TempDir() + "guestmem-vmm-signal-spin.bin");
}

TEST(VmmSignal, SigtermStopsASpinningGuestCleanly) {
    if (!emu_runs_x86_64()) GTEST_SKIP() << "the emulator cannot run x86_64 guests here";
    expect_clean_stop({"run", "--backend", "emu", "--arch", "x86_64", "--image", spinning_guest(), "--timeout", "120"},
                      fresh_dir("term"), SIGTERM, "SIGTERM");
}

TEST(VmmSignal, SigintStopsAGuestWritingLargeSnapshotsCleanly) {
    if (!emu_runs_x86_64()) GTEST_SKIP() << "the emulator cannot run x86_64 guests here";
    // memtest dirties megabytes between two snapshots: the signal is likely
    // to come while one is being written. It ends by itself (in well under a
    // second at 128 MiB on an idle host): 512 MiB, and the signal soon after
    // the second snapshot, so that it comes first on a fast host too.
    expect_clean_stop({"run", "--backend", "emu", "--arch", "x86_64", "--guest", "memtest", "--ram", "512M", "--quiet",
                       "--timeout", "120"},
                      fresh_dir("int"), SIGINT, "SIGINT", 50ms);
}

TEST(VmmSignal, SigtermStopsAKvmGuestCleanly) {
    if (access("/dev/kvm", R_OK | W_OK) != 0) GTEST_SKIP() << "/dev/kvm is absent: no KVM here";
    if (guestmem::host_arch() != guestmem::Arch::x86_64) GTEST_SKIP() << "the spinning guest is x86-64 code";
    if (auto kvm = guestmem::choose_backend(guestmem::BackendKind::kvm, guestmem::Arch::x86_64); !kvm) {
        GTEST_SKIP() << "KVM cannot run guests here: " << kvm.error().message;
    }
    expect_clean_stop({"run", "--backend", "kvm", "--image", spinning_guest(), "--timeout", "120"}, fresh_dir("kvm"),
                      SIGTERM, "SIGTERM");
}

TEST(VmmSignal, SignalsAreDocumented) {
    const Ended help = run_child({"--help"});
    EXPECT_NE(help.output.find("130 (SIGINT)"), std::string::npos) << help.output;
    EXPECT_NE(help.output.find("143 (SIGTERM)"), std::string::npos) << help.output;
}

}  // namespace
