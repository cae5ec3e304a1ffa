// SPDX-License-Identifier: BSD-2-Clause
// --snapshot-every MS takes a snapshot every MS milliseconds (issue 20,
// item 7), on the emulator and on KVM: counted with tolerances, since a
// loaded host runs the guest, and writes snapshots, slower.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <string>

#include "guestmem/backend_registry.hpp"
#include "test_guests.hpp"
#include "vmm_child.hpp"

namespace {

namespace fs = std::filesystem;
using vmm_test::Ended;
using vmm_test::run_child;

std::size_t count_snapshots(const fs::path& dir) {
    std::size_t n = 0;
    for (const auto& entry : fs::directory_iterator(dir)) n += entry.path().extension() == ".gms";
    return n;
}

/// Spins a guest for `seconds` (--timeout) with a snapshot every `every_ms`;
/// returns the number of snapshot files (the full one and the diffs).
std::size_t snapshots_in_a_run(const std::string& backend, const std::string& name, const char* seconds,
                               const char* every_ms) {
    const fs::path dir = fs::path(::testing::TempDir()) / ("guestmem-vmm-cadence-" + name);
    fs::remove_all(dir);
    const std::string guest = vmm_test::write_spinning_guest(::testing::TempDir() + "guestmem-vmm-spin.bin");
    const Ended e = run_child({"run", "--backend", backend, "--arch", "x86_64", "--image", guest, "--timeout", seconds,
                               "--snapshot-every", every_ms, dir.string()});
    EXPECT_EQ(e.exit_status, 3) << "the spinning guest is stopped by the timeout:\n" << e.output;
    EXPECT_NE(e.output.find("stopping the guest after the " + std::string(seconds) + " s timeout"), std::string::npos)
        << e.output;
    const std::size_t n = count_snapshots(dir);
    fs::remove_all(dir);
    return n;
}

void expect_cadence(const std::string& backend) {
    // 2.5 s at 100 ms: 25 diffs on an idle host (fewer as snapshots take
    // time, which does not count); 3 when the interval was only seen at a
    // once-a-second tick.
    const std::size_t at_100ms = snapshots_in_a_run(backend, backend + "-100", "2.5", "100");
    EXPECT_GE(at_100ms, 1u + 12) << "a full snapshot and well over 10 diffs";
    EXPECT_LE(at_100ms, 1u + 26) << "no more than the interval allows";
    // 1.5 s at 1 ms: hundreds on an idle host, 2 when the tick ruled.
    const std::size_t at_1ms = snapshots_in_a_run(backend, backend + "-1", "1.5", "1");
    EXPECT_GE(at_1ms, 1u + 30);
}

TEST(VmmSnapshotCadence, EveryHundredMillisecondsOnTheEmulator) {
    if (auto emu = guestmem::choose_backend(guestmem::BackendKind::emu, guestmem::Arch::x86_64); !emu) {
        GTEST_SKIP() << "the emulator cannot run x86_64 guests here: " << emu.error().message;
    }
    expect_cadence("emu");
}

TEST(VmmSnapshotCadence, EveryHundredMillisecondsOnKvm) {
    if (access("/dev/kvm", R_OK | W_OK) != 0) GTEST_SKIP() << "/dev/kvm is absent: no KVM here";
    if (guestmem::host_arch() != guestmem::Arch::x86_64) GTEST_SKIP() << "the spinning guest is x86-64 code";
    if (auto kvm = guestmem::choose_backend(guestmem::BackendKind::kvm, guestmem::Arch::x86_64); !kvm) {
        GTEST_SKIP() << "KVM cannot run guests here: " << kvm.error().message;
    }
    expect_cadence("kvm");
}

}  // namespace
