// SPDX-License-Identifier: BSD-2-Clause
// guestmem-vmm's snapshots as a user takes them: run with --snapshot-every,
// restore DIR/LATEST, snapshot-info; the restored guest's output and exit
// status must be those of an uninterrupted run.
#include <gtest/gtest.h>

#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "guestmem/backend_registry.hpp"
#include "guestmem/guest_ram.hpp"
#include "guestmem/vm.hpp"
#include "snapshots.hpp"
#include "vmm_process.hpp"

namespace {

using vmm_test::Outcome;
using vmm_test::vmm;

namespace fs = std::filesystem;

/// The guest's own lines (what it printed through the UART), in order.
std::vector<std::string> guest_lines(const std::string& output, const std::string& guest) {
    std::vector<std::string> lines;
    std::istringstream in(output);
    for (std::string line; std::getline(in, line);) {
        if (line.rfind(guest + ":", 0) == 0) lines.push_back(line);
    }
    return lines;
}

/// A fresh, empty folder for one test's snapshots.
fs::path fresh_dir(const std::string& name) {
    const fs::path dir = fs::path(::testing::TempDir()) / ("guestmem-vmm-" + name);
    fs::remove_all(dir);
    return dir;
}

std::vector<fs::path> snapshot_files(const fs::path& dir) {
    std::vector<fs::path> files;
    for (const auto& entry : fs::directory_iterator(dir)) {
        if (entry.path().extension() == ".gms") files.push_back(entry.path());
    }
    std::sort(files.begin(), files.end());
    return files;
}

bool backend_runs_guests(guestmem::BackendKind kind) {
    return static_cast<bool>(guestmem::choose_backend(kind, guestmem::host_arch()));
}

/// Runs memtest with snapshots on `run_backend`, restores LATEST on
/// `restore_backend`, and checks the restored run finishes as the
/// uninterrupted one did.
void run_snapshot_restore(const std::string& name, const std::string& run_backend, const std::string& restore_backend,
                          const std::string& ram, const std::string& extra_restore = "") {
    const fs::path dir = fresh_dir(name);
    Outcome whole = vmm("run --guest memtest --ram " + ram + " --backend " + run_backend + " --timeout 120");
    ASSERT_EQ(whole.status, 0) << whole.output;

    Outcome first = vmm("run --guest memtest --ram " + ram + " --backend " + run_backend +
                        " --timeout 120 --snapshot-every 5 " + dir.string());
    ASSERT_EQ(first.status, 0) << first.output;
    EXPECT_EQ(guest_lines(first.output, "memtest"), guest_lines(whole.output, "memtest"))
        << "snapshots do not change what the guest does";
    const auto files = snapshot_files(dir);
    ASSERT_GE(files.size(), 2u) << "a full snapshot, then at least one diff:\n" << first.output;
    EXPECT_EQ(files.front().filename(), "snap-0000.gms");
    ASSERT_TRUE(fs::is_symlink(dir / "LATEST"));
    EXPECT_EQ(fs::read_symlink(dir / "LATEST"), files.back().filename());
    Outcome latest_info = vmm("snapshot-info " + (dir / "LATEST").string());
    EXPECT_NE(latest_info.output.find(", diff, id"), std::string::npos) << latest_info.output;

    Outcome restored = vmm("restore " + (dir / "LATEST").string() + " --backend " + restore_backend + " --timeout 120" +
                           extra_restore);
    ASSERT_EQ(restored.status, whole.status) << restored.output;
    EXPECT_EQ(guest_lines(restored.output, "memtest"), guest_lines(whole.output, "memtest")) << restored.output;
    EXPECT_NE(restored.output.find("memtest: PASS"), std::string::npos) << restored.output;

    // The first, full snapshot restores too: the guest runs from its start.
    Outcome from_start = vmm("restore " + files.front().string() + " --backend " + restore_backend + " --timeout 120");
    ASSERT_EQ(from_start.status, whole.status) << from_start.output;
    EXPECT_EQ(guest_lines(from_start.output, "memtest"), guest_lines(whole.output, "memtest"));
}

TEST(VmmSnapshot, MemtestSnapshotsAndRestoresOnTheEmulatorWithTheSameOutput) {
    if (!backend_runs_guests(guestmem::BackendKind::emu)) GTEST_SKIP() << "the emulator cannot run guests here";
    run_snapshot_restore("emu", "emu", "emu", "16M");
}

TEST(VmmSnapshot, AnEagerRestoreContinuesTheSame) {
    if (!backend_runs_guests(guestmem::BackendKind::emu)) GTEST_SKIP() << "the emulator cannot run guests here";
    run_snapshot_restore("eager", "emu", "emu", "8M", " --eager");
}

TEST(VmmSnapshot, DeferredRamSnapshotsAndRestores) {
    REQUIRE_GUEST_BACKEND();
    const fs::path dir = fresh_dir("deferred");
    // Every 20 ms of guest time: at 2 ms (taken at that cadence since the run
    // loop no longer waits for its 1 s tick) a sanitizer build spends the
    // default 30 s timeout writing snapshots.
    Outcome first =
        vmm("run --guest memtest --ram 32M --deferred-ram --timeout 120 --snapshot-every 20 " + dir.string());
    ASSERT_EQ(first.status, 0) << first.output;
    ASSERT_GE(snapshot_files(dir).size(), 2u) << "a full snapshot and a diff:\n" << first.output;
    Outcome restored = vmm("restore " + (dir / "LATEST").string() + " --timeout 120");
    ASSERT_EQ(restored.status, 0) << restored.output;
    EXPECT_EQ(guest_lines(restored.output, "memtest"), guest_lines(first.output, "memtest"));
}

TEST(VmmSnapshot, OnKvmAndAcrossBackends) {
    if (access("/dev/kvm", R_OK | W_OK) != 0) GTEST_SKIP() << "/dev/kvm is absent: no KVM snapshots here";
    if (!backend_runs_guests(guestmem::BackendKind::kvm)) GTEST_SKIP() << "KVM cannot run guests here";
    run_snapshot_restore("kvm", "kvm", "kvm", "16M");
    if (!backend_runs_guests(guestmem::BackendKind::emu)) GTEST_SKIP() << "the emulator cannot run guests here";
    run_snapshot_restore("kvm-to-emu", "kvm", "emu", "16M");
    run_snapshot_restore("emu-to-kvm", "emu", "kvm", "16M");
}

TEST(VmmSnapshot, SnapshotInfoPrintsTheLayoutAndSizes) {
    REQUIRE_GUEST_BACKEND();
    const fs::path dir = fresh_dir("info");
    Outcome first = vmm("run --guest hello --snapshot-every 1000 " + dir.string());
    ASSERT_EQ(first.status, 0) << first.output;
    Outcome info = vmm("snapshot-info " + (dir / "snap-0000.gms").string());
    ASSERT_EQ(info.status, 0) << info.output;
    EXPECT_NE(info.output.find("full"), std::string::npos) << info.output;
    EXPECT_NE(info.output.find("0x000000000000-0x0000003fffff"), std::string::npos) << "4 MiB of RAM from 0";
    EXPECT_NE(info.output.find("0x0000fe000000-0x0000fe000fff"), std::string::npos) << "the ROM";
    EXPECT_NE(info.output.find("pages stored"), std::string::npos);
    EXPECT_NE(info.output.find("1 vCPU state"), std::string::npos);
}

TEST(VmmSnapshot, BadSnapshotsAreRefusedWithAReason) {
    REQUIRE_GUEST_BACKEND();
    Outcome missing = vmm("restore /nonexistent/LATEST");
    EXPECT_EQ(missing.status, 2) << missing.output;
    EXPECT_NE(missing.output.find("cannot open snapshot /nonexistent/LATEST"), std::string::npos) << missing.output;

    const fs::path dir = fresh_dir("bad");
    Outcome first = vmm("run --guest hello --snapshot-every 1000 " + dir.string());
    ASSERT_EQ(first.status, 0) << first.output;
    const fs::path good = dir / "snap-0000.gms";
    // A truncated copy.
    const fs::path cut = dir / "cut.gms";
    fs::copy_file(good, cut);
    fs::resize_file(cut, fs::file_size(cut) / 2);
    Outcome truncated = vmm("restore " + cut.string());
    EXPECT_EQ(truncated.status, 2) << truncated.output;
    EXPECT_NE(truncated.output.find("cannot restore"), std::string::npos) << truncated.output;
    Outcome info = vmm("snapshot-info " + cut.string());
    EXPECT_EQ(info.status, 2) << info.output;

    Outcome no_record = vmm("restore " + good.string() + "x");
    EXPECT_EQ(no_record.status, 2) << no_record.output;
    Outcome usage = vmm("restore");
    EXPECT_EQ(usage.status, 2);
    EXPECT_NE(usage.output.find("restore needs a snapshot FILE"), std::string::npos) << usage.output;
    Outcome pair = vmm("run --guest pingpong --snapshot-every 10 " + dir.string());
    EXPECT_EQ(pair.status, 2);
    EXPECT_NE(pair.output.find("--snapshot-every needs a single VM"), std::string::npos) << pair.output;
    Outcome interval = vmm("run --guest hello --snapshot-every 0 " + dir.string());
    EXPECT_EQ(interval.status, 2);
}

}  // namespace

namespace {

TEST(VmmSnapshot, ASnapshotFileCopiedAloneRestores) {
    if (!backend_runs_guests(guestmem::BackendKind::emu)) GTEST_SKIP() << "the emulator cannot run guests here";
    const fs::path dir = fresh_dir("alone");
    Outcome first = vmm("run --guest hello --backend emu --snapshot-every 1000 " + dir.string());
    ASSERT_EQ(first.status, 0) << first.output;
    // The VMM's record is inside the file: nothing else needs copying.
    const fs::path elsewhere = fresh_dir("alone-copy");
    fs::create_directories(elsewhere);
    fs::copy_file(dir / "snap-0000.gms", elsewhere / "copy.gms");
    EXPECT_EQ(std::distance(fs::directory_iterator(dir), fs::directory_iterator()), 2) << "snap-0000.gms and LATEST";
    Outcome restored = vmm("restore " + (elsewhere / "copy.gms").string() + " --backend emu");
    ASSERT_EQ(restored.status, 0) << restored.output;
    EXPECT_NE(restored.output.find("Hello from a guest running on guestmem!"), std::string::npos) << restored.output;
}

}  // namespace

namespace {

TEST(VmmSnapshot, ASnapshotWithoutTheVmmsRecordIsRefusedAndAnOldSidecarStillReads) {
    const fs::path dir = fresh_dir("no-record");
    fs::create_directories(dir);
    auto created = guestmem::Vm::create(guestmem::BackendKind::sim, std::make_shared<guestmem::CapabilitySpace>());
    ASSERT_TRUE(created);
    guestmem::Vm& vm = **created;
    ASSERT_TRUE(vm.init_memory());
    ASSERT_TRUE(vm.ram().register_at(0, 0x200000));
    const fs::path file = dir / "library.gms";
    ASSERT_TRUE(guestmem::snapshot::save(vm, file));
    Outcome refused = vmm("restore " + file.string() + " --backend emu");
    EXPECT_EQ(refused.status, 2) << refused.output;
    EXPECT_NE(refused.output.find("holds no guestmem-vmm machine record"), std::string::npos) << refused.output;

    // A record beside the file, as versions before the application section kept it.
    const vmm::MachineRecord record{"hello", guestmem::Arch::x86_64, 0x200000, false, {}};
    const auto bytes = vmm::encode_record(record);
    std::ofstream(fs::path(file.string() + ".vmm"), std::ios::binary)
        .write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
    auto read = vmm::read_record(file);
    ASSERT_TRUE(read) << read.error().message;
    EXPECT_EQ(read->guest, "hello");
    EXPECT_EQ(read->ram_size, 0x200000u);
}

}  // namespace

namespace {

TEST(VmmSnapshot, SnapshotMergeWritesTheChainAsOneFileThatRestoresTheSame) {
    if (!backend_runs_guests(guestmem::BackendKind::emu)) GTEST_SKIP() << "the emulator cannot run guests here";
    const fs::path dir = fresh_dir("merge");
    Outcome whole = vmm("run --guest memtest --ram 8M --backend emu --timeout 120");
    ASSERT_EQ(whole.status, 0) << whole.output;
    Outcome first = vmm("run --guest memtest --ram 8M --backend emu --timeout 120 --snapshot-every 5 " + dir.string());
    ASSERT_EQ(first.status, 0) << first.output;
    ASSERT_GE(snapshot_files(dir).size(), 2u) << first.output;

    const fs::path merged = dir / "merged.gms";
    Outcome merge = vmm("snapshot-merge " + (dir / "LATEST").string() + " " + merged.string());
    ASSERT_EQ(merge.status, 0) << merge.output;
    EXPECT_NE(merge.output.find("a full snapshot"), std::string::npos) << merge.output;
    Outcome info = vmm("snapshot-info " + merged.string());
    EXPECT_NE(info.output.find(", full, id"), std::string::npos) << info.output;
    Outcome restored = vmm("restore " + merged.string() + " --backend emu --timeout 120");
    ASSERT_EQ(restored.status, 0) << restored.output;
    EXPECT_EQ(guest_lines(restored.output, "memtest"), guest_lines(whole.output, "memtest")) << restored.output;

    // In place through LATEST: the file it points at becomes the full one.
    Outcome in_place = vmm("snapshot-merge " + (dir / "LATEST").string() + " " + (dir / "LATEST").string());
    ASSERT_EQ(in_place.status, 0) << in_place.output;
    EXPECT_TRUE(fs::is_symlink(dir / "LATEST"));
    Outcome latest = vmm("snapshot-info " + (dir / "LATEST").string());
    EXPECT_NE(latest.output.find(", full, id"), std::string::npos) << latest.output;

    Outcome usage = vmm("snapshot-merge " + merged.string());
    EXPECT_EQ(usage.status, 2);
    EXPECT_NE(usage.output.find("snapshot-merge needs the FILE to write"), std::string::npos) << usage.output;
    Outcome missing = vmm("snapshot-merge /nonexistent/x " + merged.string());
    EXPECT_EQ(missing.status, 2) << missing.output;
}

}  // namespace

namespace {

// A snapshot whose application section holds `record_text` (a VMM record
// crafted by hand): the file's checksum is right, the record may not be.
fs::path snapshot_with_record(const fs::path& dir, const std::string& name, const std::string& record_text) {
    auto created = guestmem::Vm::create(guestmem::BackendKind::sim, std::make_shared<guestmem::CapabilitySpace>());
    EXPECT_TRUE(created);
    guestmem::Vm& vm = **created;
    EXPECT_TRUE(vm.init_memory());
    EXPECT_TRUE(vm.ram().register_at(0, 0x400000));
    guestmem::snapshot::SaveOptions options;
    const auto* bytes = reinterpret_cast<const std::byte*>(record_text.data());
    options.application.assign(bytes, bytes + record_text.size());
    const fs::path file = dir / name;
    EXPECT_TRUE(guestmem::snapshot::save(vm, file, options));
    return file;
}

TEST(VmmSnapshot, AForgedRecordInsideASnapshotIsCheckedLikeTheCommandLine) {
    const fs::path dir = fresh_dir("forged");
    fs::create_directories(dir);
    const std::string head = "guestmem-vmm-snapshot-record 1\nguest hello\narch x86_64\n";
    const struct {
        std::string lines;
        std::string reason;
    } cases[] = {
        {"ram -1\n", "is not a size from 2 MiB"},
        {"ram 99999999999999999999\n", "is not a size from 2 MiB"},
        {"ram 4194304xyz\n", "is not a size from 2 MiB"},
        {"ram 8388608\n", "is not the RAM the snapshot's layout has"},
        {"ram 2097152\n", "is not the RAM the snapshot's layout has"},
        {"ram 4194304\nram 4194304\n", "appears twice"},
        {"ram 4194304\nuart-divisor 99999 -5\n", "malformed uart-divisor"},
        {"ram 4194304\ndeferred-ram yes\n", "not 0 or 1"},
    };
    int n = 0;
    for (const auto& c : cases) {
        const fs::path file = snapshot_with_record(dir, "forged-" + std::to_string(n++), head + c.lines);
        Outcome o = vmm("restore " + file.string() + " --backend emu");
        EXPECT_EQ(o.status, 2) << c.lines << o.output;
        EXPECT_NE(o.output.find(c.reason), std::string::npos) << c.lines << o.output;
        EXPECT_EQ(o.output.find("Restored"), std::string::npos) << c.lines << o.output;
    }
    const fs::path escape = snapshot_with_record(
        dir, "escape", "guestmem-vmm-snapshot-record 1\nguest \x1b[2Jhello\narch x86_64\nram 4194304\n");
    Outcome o = vmm("restore " + escape.string() + " --backend emu");
    EXPECT_EQ(o.status, 2) << o.output;
    EXPECT_NE(o.output.find("not printable text"), std::string::npos) << o.output;
}

TEST(VmmCli, AnEmptyValueIsRefusedNotTakenForAnAbsentFlag) {
    for (const char* args : {"run --image \"\"", "run --snapshot-every 5 \"\"", "run --map-svg \"\"",
                             "run --guest \"\"", "run --backend sim --script \"\""}) {
        Outcome o = vmm(args);
        EXPECT_EQ(o.status, 2) << args << "\n" << o.output;
        EXPECT_NE(o.output.find("needs a value"), std::string::npos) << args << "\n" << o.output;
    }
    Outcome both = vmm("run --guest hello --image " + std::string(GUESTMEM_TEST_ELF));
    EXPECT_EQ(both.status, 2) << both.output;
    EXPECT_NE(both.output.find("give one of them"), std::string::npos) << both.output;
}

}  // namespace
