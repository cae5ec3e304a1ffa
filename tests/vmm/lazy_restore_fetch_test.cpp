// SPDX-License-Identifier: BSD-2-Clause
// A lazy restore whose guest's first touch of a RAM chunk is an instruction
// fetch: fetch_split's code spans two 64 KiB chunks (0x100000 calls
// 0x120000). Run with --deferred-ram and a snapshot before the guest starts,
// the first snapshot restored lazily must print both lines and exit 0, as
// the uninterrupted run and an eager restore do.
#include <gtest/gtest.h>

#include <unistd.h>

#include <filesystem>
#include <string>

#include "guestmem/backend_registry.hpp"
#include "vmm_process.hpp"

namespace {

using vmm_test::Outcome;
using vmm_test::vmm;

namespace fs = std::filesystem;

constexpr const char* kFirstLine = "fetch_split: first chunk\n";
constexpr const char* kSecondLine = "fetch_split: second chunk\n";

bool runs_guests(guestmem::BackendKind kind, guestmem::Arch arch) {
    return static_cast<bool>(guestmem::choose_backend(kind, arch));
}

void expect_both_lines(const Outcome& outcome, const std::string& what) {
    EXPECT_EQ(outcome.status, 0) << what << ":\n" << outcome.output;
    EXPECT_NE(outcome.output.find(kFirstLine), std::string::npos) << what << ":\n" << outcome.output;
    EXPECT_NE(outcome.output.find(kSecondLine), std::string::npos) << what << ":\n" << outcome.output;
}

/// Runs `elf` with deferred RAM and snapshots on `backend`, then restores the
/// first (full) snapshot lazily and eagerly.
void run_and_restore_lazily(const std::string& name, const std::string& elf, const std::string& backend,
                            const std::string& arch) {
    if (!fs::exists(elf)) GTEST_SKIP() << elf << " was not built (no binutils for " << arch << ")";
    const fs::path dir = fs::path(::testing::TempDir()) / ("guestmem-vmm-lazy-fetch-" + name);
    fs::remove_all(dir);
    const std::string common = " --backend " + backend + " --timeout 60";
    Outcome whole = vmm("run --image " + elf + " --arch " + arch + " --deferred-ram" + common + " --snapshot-every " +
                        "60000 " + dir.string());
    expect_both_lines(whole, "the uninterrupted run");
    const fs::path first = dir / "snap-0000.gms";
    ASSERT_TRUE(fs::exists(first)) << whole.output;

    Outcome lazy = vmm("restore " + first.string() + common);
    expect_both_lines(lazy, "the lazy restore");
    Outcome eager = vmm("restore " + first.string() + common + " --eager");
    expect_both_lines(eager, "the eager restore");
    fs::remove_all(dir);
}

TEST(LazyRestoreFetch, EmulatorX86_64) {
    if (!runs_guests(guestmem::BackendKind::emu, guestmem::Arch::x86_64)) {
        GTEST_SKIP() << "the emulator cannot run x86-64 guests here";
    }
    run_and_restore_lazily("emu-x86_64", GUESTMEM_FETCH_SPLIT_ELF, "emu", "x86_64");
}

TEST(LazyRestoreFetch, EmulatorAArch64) {
    if (!runs_guests(guestmem::BackendKind::emu, guestmem::Arch::aarch64)) {
        GTEST_SKIP() << "the emulator cannot run AArch64 guests here";
    }
    run_and_restore_lazily("emu-aarch64", GUESTMEM_FETCH_SPLIT_ELF_AARCH64, "emu", "aarch64");
}

TEST(LazyRestoreFetch, Kvm) {
    if (access("/dev/kvm", R_OK | W_OK) != 0) GTEST_SKIP() << "/dev/kvm is absent: no KVM here";
    ASSERT_TRUE(runs_guests(guestmem::BackendKind::kvm, guestmem::Arch::x86_64))
        << "/dev/kvm is there but KVM cannot run guests";
    run_and_restore_lazily("kvm", GUESTMEM_FETCH_SPLIT_ELF, "kvm", "x86_64");
}

}  // namespace
