// SPDX-License-Identifier: BSD-2-Clause
// The demo VMM says what it did and what to do (issue 20, item 8): a file
// that is no ELF is run as a flat binary with a word, and the way out it
// suggests when a backend cannot run an architecture runs guest code.
#include <gtest/gtest.h>

#include <sstream>
#include <string>
#include <vector>

#include "guestmem/backend_registry.hpp"
#include "test_guests.hpp"
#include "vmm_child.hpp"

namespace {

using vmm_test::Ended;
using vmm_test::run_child;

const char* const kFlatNotice = "is not an ELF file: loading it as a flat binary at 0x100000";

TEST(VmmMessages, AFileThatIsNoElfIsSaidToRunAsAFlatBinary) {
    const std::string guest = vmm_test::write_spinning_guest(::testing::TempDir() + "guestmem-vmm-flat.bin");
    const Ended e = run_child({"run", "--backend", "emu", "--arch", "x86_64", "--image", guest, "--timeout", "0.2"});
    EXPECT_NE(e.output.find("guestmem-vmm: " + guest + " " + kFlatNotice + "\n"), std::string::npos) << e.output;
}

TEST(VmmMessages, ElfImagesAndBundledGuestsGetNoFlatBinaryNotice) {
    const Ended elf = run_child({"run", "--image", GUESTMEM_TEST_ELF, "--arch", "x86_64", "--backend", "emu"});
    EXPECT_EQ(elf.output.find("flat binary"), std::string::npos) << elf.output;
    const Ended bundled = run_child({"run", "--guest", "hello", "--backend", "emu", "--arch", "x86_64"});
    EXPECT_EQ(bundled.output.find("flat binary"), std::string::npos) << bundled.output;
}

TEST(VmmMessages, KvmForAarch64SuggestsTheEmulator) {
    if (auto emu = guestmem::choose_backend(guestmem::BackendKind::emu, guestmem::Arch::aarch64); !emu) {
        GTEST_SKIP() << "the emulator cannot run aarch64 guests here: " << emu.error().message;
    }
    if (guestmem::choose_backend(guestmem::BackendKind::kvm, guestmem::Arch::aarch64)) {
        GTEST_SKIP() << "KVM runs aarch64 guests here";
    }
    for (const char* command : {"run --guest hello", "run --guest memtest --ram 8M"}) {
        SCOPED_TRACE(command);
        std::vector<std::string> args;
        for (std::istringstream words(command); words;) {
            std::string w;
            if (words >> w) args.push_back(w);
        }
        args.insert(args.end(), {"--backend", "kvm", "--arch", "aarch64"});
        const Ended e = run_child(args);
        if (e.output.find("is missing") != std::string::npos) GTEST_SKIP() << "no AArch64 guests built:\n" << e.output;
        EXPECT_EQ(e.exit_status, 4) << e.output;
        EXPECT_NE(e.output.find("cannot run aarch64 guests"), std::string::npos) << e.output;
        EXPECT_NE(e.output.find("--backend emu"), std::string::npos) << e.output;
        EXPECT_EQ(e.output.find("--backend sim"), std::string::npos) << "sim runs no guest code:\n" << e.output;
    }
    // And the suggestion works: the same guest runs on the emulator.
    const Ended emu = run_child({"run", "--guest", "hello", "--backend", "emu", "--arch", "aarch64"});
    EXPECT_EQ(emu.exit_status, 0) << emu.output;
}

}  // namespace
