// SPDX-License-Identifier: BSD-2-Clause
// Runs guestmem-vmm as a user would and checks what it says and returns.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <regex>
#include <sstream>
#include <string>

#include "guestmem/backend_registry.hpp"
#include "vmm_process.hpp"

namespace {

using vmm_test::Outcome;
using vmm_test::vmm;
using vmm_test::no_guest_backend;

/// True when the VMM probed the host for a backend (it says which it chose).
bool chose_a_backend(const Outcome& o) { return o.output.find("guestmem-vmm: backend ") != std::string::npos; }

/// The numbers of one fault-table row: handled unhandled restart ignore error lazy-map.
std::vector<unsigned long> fault_row(const std::string& output, const std::string& name) {
    std::istringstream in(output);
    std::vector<unsigned long> cells;
    for (std::string line; std::getline(in, line);) {
        std::istringstream words(line);
        std::string first;
        words >> first;
        if (first != name) continue;
        cells.clear();
        for (unsigned long v; cells.size() < 6 && words >> v;) cells.push_back(v);
    }
    return cells;
}

/// The fault table's deferred-RAM rows ("ram+<offset>K"): one per chunk.
struct LazyRam {
    unsigned long chunks = 0;
    unsigned long lazy_maps = 0;  ///< the rows' lazy-map counts added up
    unsigned long most_maps_of_one_chunk = 0;
    unsigned long malformed_rows = 0;  ///< rows without six numbers
};

LazyRam lazy_ram(const std::string& output) {
    LazyRam ram;
    std::istringstream in(output);
    for (std::string line; std::getline(in, line);) {
        if (line.rfind("ram+", 0) != 0) continue;
        const auto row = fault_row(output, line.substr(0, line.find(' ')));
        ++ram.chunks;
        if (row.size() != 6) {
            ++ram.malformed_rows;
            continue;
        }
        ram.lazy_maps += row[5];
        ram.most_maps_of_one_chunk = std::max(ram.most_maps_of_one_chunk, row[5]);
    }
    return ram;
}

std::string temp_path(const char* name) { return ::testing::TempDir() + name; }

/// What a memtest run prints when every page passed.
void expect_memtest_passed(const Outcome& o) {
    EXPECT_NE(o.output.find("memtest: pages tested: 0x0000000000000200, mismatched words: 0x0000000000000000"),
              std::string::npos)
        << o.output;
    EXPECT_NE(o.output.find("memtest: PASS"), std::string::npos);
}

/// What a pingpong run prints when both VMs exchanged every round.
void expect_pingpong_passed(const Outcome& o) {
    EXPECT_NE(o.output.find("[vm0] pingpong: rounds 0x0000000000000010, errors 0x0000000000000000"), std::string::npos)
        << o.output;
    EXPECT_NE(o.output.find("[vm1] pingpong: rounds 0x0000000000000010, errors 0x0000000000000000"), std::string::npos)
        << o.output;
    EXPECT_NE(o.output.find("doorbell rings: vm0 received 16, vm1 received 16"), std::string::npos) << o.output;
}

}  // namespace

TEST(VmmCli, HelpDocumentsEveryFlag) {
    Outcome o = vmm("--help");
    EXPECT_EQ(o.status, 0);
    for (const char* flag :
         {"--guest", "--image", "--ram", "--deferred-ram", "--map", "--map-svg", "--quiet", "--timeout", "--backend",
          "--arch", "auto", "emu", "aarch64", "--script", "Examples:", "Exit status"}) {
        EXPECT_NE(o.output.find(flag), std::string::npos) << flag;
    }
}

TEST(VmmCli, UsageErrorsSayWhatIsWrong) {
    Outcome unknown = vmm("run --frobnicate");
    EXPECT_EQ(unknown.status, 2);
    EXPECT_NE(unknown.output.find("unknown option --frobnicate"), std::string::npos);
    Outcome ram = vmm("run --ram 3");
    EXPECT_EQ(ram.status, 2);
    EXPECT_NE(ram.output.find("--ram 3"), std::string::npos);
    Outcome guest = vmm("run --guest nosuch");
    EXPECT_EQ(guest.status, 2);
    EXPECT_NE(guest.output.find("no bundled guest named nosuch"), std::string::npos);
    Outcome sim = vmm("run --backend sim");
    EXPECT_EQ(sim.status, 2);
    EXPECT_NE(sim.output.find("--script"), std::string::npos);
    Outcome backend = vmm("run --backend hyperv");
    EXPECT_EQ(backend.status, 2);
    EXPECT_NE(backend.output.find("--backend hyperv: choose auto, kvm, emu or sim"), std::string::npos)
        << backend.output;
    Outcome arch = vmm("run --arch sparc");
    EXPECT_EQ(arch.status, 2);
    EXPECT_NE(arch.output.find("--arch sparc: choose x86_64 or aarch64"), std::string::npos) << arch.output;
    // Checked before the host is probed: none of them looked for a backend.
    for (const Outcome* o : {&unknown, &ram, &guest, &sim, &backend, &arch}) {
        EXPECT_FALSE(chose_a_backend(*o)) << o->output;
    }
}

TEST(VmmCli, ElfForAnotherArchitectureIsAUsageError) {
    // An x86-64 ELF run as AArch64: refused before any backend is chosen.
    Outcome o = vmm(std::string("run --arch aarch64 --image ") + GUESTMEM_TEST_ELF);
    EXPECT_EQ(o.status, 2) << o.output;
    EXPECT_NE(o.output.find("not an ELF64 file for aarch64"), std::string::npos) << o.output;
    EXPECT_FALSE(chose_a_backend(o)) << o.output;
}

TEST(VmmCli, SaysWhichBackendItChoseAndWhy) {
    REQUIRE_GUEST_BACKEND();
    Outcome o = vmm("run --guest hello --quiet");
    ASSERT_EQ(o.status, 0) << o.output;
    auto choice = guestmem::choose_backend(guestmem::BackendKind::automatic, guestmem::host_arch());
    ASSERT_TRUE(choice);
    const std::string line = "guestmem-vmm: backend " + std::string(guestmem::to_string(choice->kind)) + " for " +
                             std::string(guestmem::to_string(guestmem::host_arch())) + " guests (" + choice->why + ")";
    EXPECT_NE(o.output.find(line), std::string::npos) << o.output;
}

TEST(VmmCli, UnavailableBackendIsAVmmErrorThatSaysWhy) {
    // KVM never runs AArch64 guests here (it runs the host's x86-64 only):
    // status 4 and the registry's reason, on every host.
    Outcome o = vmm("run --guest hello --backend kvm --arch aarch64");
    EXPECT_EQ(o.status, 4) << o.output;
    EXPECT_NE(o.output.find("cannot run aarch64 guests: "), std::string::npos) << o.output;
    EXPECT_NE(o.output.find("kvm: "), std::string::npos) << o.output;
    // And any backend this host cannot use for its own architecture.
    for (const char* name : {"kvm", "emu"}) {
        auto kind = guestmem::backend_from_string(name);
        ASSERT_TRUE(kind);
        if (guestmem::choose_backend(*kind, guestmem::host_arch())) continue;  // usable here
        Outcome host = vmm(std::string("run --guest hello --backend ") + name);
        EXPECT_EQ(host.status, 4) << host.output;
        EXPECT_NE(host.output.find(std::string(name) + ": "), std::string::npos) << host.output;
    }
}

TEST(VmmCli, ListsBundledGuests) {
    Outcome o = vmm("guests");
    EXPECT_EQ(o.status, 0);
    for (const char* g : {"hello", "memtest", "pingpong"}) EXPECT_NE(o.output.find(g), std::string::npos);
}

TEST(VmmCli, HelloPrintsThroughTheUartAndExitsZero) {
    REQUIRE_GUEST_BACKEND();
    Outcome o = vmm("run --guest hello --map");
    ASSERT_EQ(o.status, 0) << o.output;
    EXPECT_NE(o.output.find("Hello from a guest running on guestmem!"), std::string::npos) << o.output;
    EXPECT_NE(o.output.find("The boot ROM says RAM is 0x0000000000400000 bytes."), std::string::npos) << o.output;
    EXPECT_NE(o.output.find("Writing the ROM was refused"), std::string::npos) << o.output;
    EXPECT_NE(o.output.find("exited, exit status 0"), std::string::npos) << o.output;
    // The map: every reservation, RAM as one slot of 1024 frames, ROM read-only.
    EXPECT_TRUE(
        std::regex_search(o.output, std::regex(R"(\[0x00000000, 0x00400000\)\s+4 MiB\s+ram\s+RAM\s+rw\s+.*1024\s+1)")))
        << o.output;
    EXPECT_TRUE(std::regex_search(o.output, std::regex(R"(\[0xfe000000, 0xfe001000\)\s+4 KiB\s+rom\s+ROM\s+r-)")));
    EXPECT_NE(o.output.find("uart"), std::string::npos);
    // The fault table: the UART handled every transmit and status read, the ROM write was ignored.
    auto uart = fault_row(o.output, "uart");
    ASSERT_EQ(uart.size(), 6u) << o.output;
    EXPECT_GT(uart[0], 100u);  // two accesses per character printed
    EXPECT_EQ(uart[4], 0u);
    auto rom = fault_row(o.output, "rom");
    ASSERT_EQ(rom.size(), 6u) << o.output;
    EXPECT_EQ(rom[3], 1u);  // one write, ignored
    auto exit = fault_row(o.output, "exit");
    ASSERT_EQ(exit.size(), 6u);
    EXPECT_EQ(exit[0], 1u);
}

TEST(VmmCli, MemtestOnDeferredRamMapsChunksOnFirstTouch) {
    REQUIRE_GUEST_BACKEND();
    Outcome o = vmm("run --guest memtest --ram 4M --deferred-ram --quiet");
    ASSERT_EQ(o.status, 0) << o.output;
    // 4 MiB in 64 KiB chunks: the 32 chunks from 2 MiB up are tested, and
    // with the code, stack and boot tables each chunk is mapped once at most.
    const LazyRam ram = lazy_ram(o.output);
    EXPECT_EQ(ram.malformed_rows, 0u) << o.output;
    EXPECT_LE(ram.most_maps_of_one_chunk, 1u);
    EXPECT_GE(ram.lazy_maps, 32u) << o.output;
    EXPECT_LE(ram.lazy_maps, 64u);
    EXPECT_GE(ram.chunks, 32u);
}

TEST(VmmCli, AGibibyteOfDeferredRamRunsOnTheEmulatorInAtMost256Chunks) {
    // 64 KiB chunks of 1 GiB would be 16,384 emulator regions: Unicorn needs
    // minutes for a few thousand and aborts past about 4,000.
    if (auto emu = guestmem::choose_backend(guestmem::BackendKind::emu, guestmem::host_arch()); !emu) {
        GTEST_SKIP() << "the emulator backend cannot run guests here: " << emu.error().message;
    }
    Outcome o = vmm("run --guest memtest --ram 1G --deferred-ram --backend emu --timeout 120");
    ASSERT_EQ(o.status, 0) << o.output;
    // Every page from 2 MiB to 1 GiB: (1 GiB - 2 MiB) / 4 KiB = 0x3fe00.
    EXPECT_NE(o.output.find("memtest: pages tested: 0x000000000003fe00, mismatched words: 0x0000000000000000"),
              std::string::npos)
        << o.output;
    const LazyRam ram = lazy_ram(o.output);
    EXPECT_EQ(ram.malformed_rows, 0u) << o.output;
    EXPECT_LE(ram.chunks, 256u) << o.output;
    EXPECT_LE(ram.most_maps_of_one_chunk, 1u);
    EXPECT_GE(ram.lazy_maps, 255u) << "the chunks from 2 MiB up are all touched (4 MiB chunks: 255 of 256)";
}

TEST(VmmCli, MemtestPassesAndReports) {
    REQUIRE_GUEST_BACKEND();
    Outcome o = vmm("run --guest memtest --ram 4M");
    ASSERT_EQ(o.status, 0) << o.output;
    expect_memtest_passed(o);
}

TEST(VmmCli, PingpongTwoVmsExchangeMessages) {
    REQUIRE_GUEST_BACKEND();
    Outcome o = vmm("run --guest pingpong --map");
    ASSERT_EQ(o.status, 0) << o.output;
    expect_pingpong_passed(o);
    EXPECT_NE(o.output.find("shared"), std::string::npos);
}

TEST(VmmCli, RunsAnElfImage) {
    REQUIRE_GUEST_BACKEND();
    Outcome o = vmm(std::string("run --image ") + GUESTMEM_TEST_ELF);
    ASSERT_EQ(o.status, 0) << o.output;
    EXPECT_NE(o.output.find("Hello from a guest running on guestmem!"), std::string::npos) << o.output;
}

TEST(VmmCli, ImageThatDoesNotFitIsRefused) {
    Outcome o = vmm("run --image /nonexistent/guest.bin");
    EXPECT_EQ(o.status, 2);
    EXPECT_NE(o.output.find("cannot open guest image /nonexistent/guest.bin"), std::string::npos) << o.output;
}

TEST(VmmCli, WritesAnSvgMapWithEveryReservation) {
    const std::string svg = temp_path("vmm_map.svg");
    Outcome o = vmm("run --backend sim --script " + std::string(GUESTMEM_VMM_SOURCE_DIR) +
                    "/scripts/hello.txt --map-svg " + svg);
    ASSERT_EQ(o.status, 0) << o.output;
    std::ifstream in(svg);
    std::stringstream text;
    text << in.rdbuf();
    const std::string s = text.str();
    EXPECT_EQ(s.rfind("<?xml", 0), 0u);
    for (const char* name : {"data-name=\"ram\"", "data-name=\"rom\"", "data-name=\"uart\"", "data-name=\"exit\""}) {
        EXPECT_NE(s.find(name), std::string::npos) << name;
    }
}

TEST(VmmCli, SimScriptReplaysAccessesAgainstTheSameDevices) {
    Outcome o = vmm("run --backend sim --script " + std::string(GUESTMEM_VMM_SOURCE_DIR) + "/scripts/hello.txt");
    ASSERT_EQ(o.status, 0) << o.output;
    EXPECT_NE(o.output.find("uart: Hi"), std::string::npos) << o.output;
    EXPECT_NE(o.output.find("script: 11 accesses, 0 failed, 0 mismatched, 0 syntax errors"), std::string::npos);
}

TEST(VmmCli, SimScriptFailuresGiveStatusThree) {
    const std::string path = temp_path("bad_script.txt");
    std::ofstream(path) << "read 0xfe000000 8 expect 0x1\nbogus line\nread 0x90000000 4\n";
    Outcome o = vmm("run --backend sim --script " + path);
    EXPECT_EQ(o.status, 3) << o.output;
    EXPECT_NE(o.output.find("MISMATCH (expected 0x1)"), std::string::npos) << o.output;
    EXPECT_NE(o.output.find("line 2: syntax error: unknown command 'bogus'"), std::string::npos) << o.output;
    EXPECT_NE(o.output.find("line 3: read  4 [0x90000000] -> ERROR"), std::string::npos) << o.output;
    EXPECT_NE(o.output.find("script: 2 accesses, 1 failed, 1 mismatched, 1 syntax errors"), std::string::npos);
}

// Every bundled guest on the CPU emulator, as x86-64 and as AArch64 guest
// code, whatever the host has (the same output as on KVM).
class VmmOnEmu : public ::testing::TestWithParam<const char*> {
protected:
    void SetUp() override {
        const auto arch = guestmem::arch_from_string(GetParam());
        ASSERT_TRUE(arch);
        auto usable = guestmem::choose_backend(guestmem::BackendKind::emu, *arch);
        if (!usable) GTEST_SKIP() << "emu: " << usable.error().message;
    }
    Outcome run(const std::string& guest, const std::string& extra = "") {
        return vmm("run --backend emu --arch " + std::string(GetParam()) + " --guest " + guest + " " + extra);
    }
};

TEST_P(VmmOnEmu, HelloPrintsTheSameGreeting) {
    Outcome o = run("hello");
    ASSERT_EQ(o.status, 0) << o.output;
    EXPECT_NE(o.output.find(std::string("backend emu for ") + GetParam() + " guests"), std::string::npos) << o.output;
    EXPECT_NE(o.output.find("Hello from a guest running on guestmem!"), std::string::npos) << o.output;
    EXPECT_NE(o.output.find("The boot ROM says RAM is 0x0000000000400000 bytes."), std::string::npos) << o.output;
    EXPECT_NE(o.output.find("Writing the ROM was refused: it still says GUESTMEM."), std::string::npos) << o.output;
    EXPECT_NE(o.output.find("exited, exit status 0"), std::string::npos) << o.output;
    auto rom = fault_row(o.output, "rom");
    ASSERT_EQ(rom.size(), 6u) << o.output;
    EXPECT_EQ(rom[3], 1u) << "the one ROM write reached its callback once, and was ignored";
}

TEST_P(VmmOnEmu, MemtestPassesOnDeferredRam) {
    Outcome o = run("memtest", "--ram 4M --deferred-ram");
    ASSERT_EQ(o.status, 0) << o.output;
    expect_memtest_passed(o);
}

TEST_P(VmmOnEmu, PingpongPasses) {
    Outcome o = run("pingpong");
    ASSERT_EQ(o.status, 0) << o.output;
    expect_pingpong_passed(o);
}

TEST_P(VmmOnEmu, TicksTakesTimerInterruptsOnX86AndIsRefusedOnAarch64) {
    Outcome o = run("ticks");
    if (std::string(GetParam()) != "x86_64") {
        // No AArch64 ticks yet (the emulator delivers interrupts to x86-64 guests only): refused, saying so.
        EXPECT_NE(o.status, 0);
        EXPECT_NE(o.output.find("ticks has no AArch64 version yet"), std::string::npos) << o.output;
        return;
    }
    ASSERT_EQ(o.status, 0) << o.output;
    EXPECT_NE(o.output.find("ticks: 10 interrupts handled"), std::string::npos) << o.output;
    EXPECT_NE(o.output.find("exited, exit status 0"), std::string::npos) << o.output;
}

INSTANTIATE_TEST_SUITE_P(Arches, VmmOnEmu, ::testing::Values("x86_64", "aarch64"),
                         [](const auto& info) { return std::string(info.param); });
