// SPDX-License-Identifier: BSD-2-Clause
// Guest images whose headers lie (issue 20, item 4): the VMM checks every
// segment against the file, the address space, the other segments and RAM
// before it allocates anything for it, so what an image costs is bounded by
// its file size and RAM, never by what its headers claim.
#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <vector>

#include "guestmem/backend_registry.hpp"
#include "test_guests.hpp"
#include "vmm_child.hpp"

namespace {

using vmm_test::ElfImage;
using vmm_test::Ended;
using vmm_test::Load;
using vmm_test::run_child;

constexpr std::uint64_t kGiB = std::uint64_t{1} << 30;

std::string image_path(const std::string& name) { return ::testing::TempDir() + "guestmem-vmm-hostile-" + name; }

/// Runs `image` with --ram `ram` (x86-64, so that the test is the same on
/// every host) and expects a usage error that says `reason`, given at once:
/// before any backend is chosen, well within the time and memory that
/// allocating what the headers claim would take.
void expect_refused(const ElfImage& image, const std::string& name, const std::string& ram, const std::string& reason) {
    const std::string path = image_path(name);
    image.write(path);
    const Ended e = run_child({"run", "--arch", "x86_64", "--ram", ram, "--image", path}, std::chrono::seconds(60));
    EXPECT_FALSE(e.hung) << e.output;
    EXPECT_EQ(e.exit_status, 2) << e.output;
    EXPECT_NE(e.output.find(path), std::string::npos) << "the message names the file:\n" << e.output;
    EXPECT_NE(e.output.find(reason), std::string::npos) << e.output;
    EXPECT_EQ(e.output.find("guestmem-vmm: backend "), std::string::npos) << "refused before looking for a backend";
    EXPECT_EQ(e.output.find("bad_alloc"), std::string::npos) << e.output;
    // Generous bounds for a loaded host: allocating the headers' claims took
    // 10-20 s and 5-7 GB.
    EXPECT_LT(e.seconds, 10.0) << e.output;
    EXPECT_LT(e.max_rss_kib, 256L * 1024) << "KiB at the peak";
}

TEST(VmmHostileImage, SixtyFourGibibyteSegmentsAreRefusedBeforeAnyAllocation) {
    // The file: 3.6 KiB, 64 PT_LOAD headers of 1 GiB each, no file bytes.
    ElfImage image;
    for (std::uint64_t i = 0; i < 64; ++i) image.loads.push_back(Load{i * kGiB, 0, 0, kGiB});
    expect_refused(image, "64gib.elf", "4064M", "does not fit in RAM");
    // The same within the default 4 MiB: the first segment is already too big.
    expect_refused(image, "64gib-small.elf", "4M", "does not fit in RAM");
}

TEST(VmmHostileImage, ASegmentStraddlingTheEndOfRamIsRefused) {
    ElfImage image;
    image.loads.push_back(Load{0x100000, 0, 0, 0x300001});  // one byte past 4 MiB
    expect_refused(image, "straddle.elf", "4M", "does not fit in RAM [0x0, 0x400000)");
    // Many small segments: the first beyond RAM is refused before any is loaded.
    ElfImage many;
    for (std::uint64_t i = 0; i < 1000; ++i) many.loads.push_back(Load{0x100000 + i * 0x1000, 0, 0, 0x1000});
    expect_refused(many, "many.elf", "2M", "does not fit in RAM");
}

TEST(VmmHostileImage, OverlappingSegmentsAreRefused) {
    ElfImage same;  // 64 times the same gibibyte, which fits RAM on its own
    for (int i = 0; i < 64; ++i) same.loads.push_back(Load{0x100000, 0, 0, kGiB});
    expect_refused(same, "same.elf", "2G", "overlap");
    ElfImage partly;
    partly.loads.push_back(Load{0x200000, 0, 0, 0x2000});
    partly.loads.push_back(Load{0x100000, 0, 0, 0x100001});  // its last byte is the other's first
    expect_refused(partly, "partly.elf", "4M", "segments 1 [0x100000, 0x200001) and 0 [0x200000, 0x202000) overlap");
}

TEST(VmmHostileImage, FileBytesBeyondTheEndOfTheFileAreRefused) {
    ElfImage past;
    past.payload.assign(16, 0xf4);
    past.loads.push_back(Load{0x100000, 0, 17, 0x1000});  // one byte too many
    past.loads[0].offset = past.payload_offset();
    expect_refused(past, "past.elf", "4M", "beyond the end of the file");
    ElfImage far;  // an offset that wraps p_offset + p_filesz around to a small number
    far.loads.push_back(Load{0x100000, ~std::uint64_t{0} - 7, 16, 0x1000});
    expect_refused(far, "far.elf", "4M", "beyond the end of the file");
}

TEST(VmmHostileImage, MoreFileBytesThanMemoryBytesAreRefused) {
    ElfImage image;
    image.payload.assign(0x100, 0xf4);
    image.loads.push_back(Load{0x100000, 0, 0x100, 0x10});
    image.loads[0].offset = image.payload_offset();
    expect_refused(image, "filesz.elf", "4M", "more bytes in the file (0x100) than in memory (0x10)");
    ElfImage empty;  // no memory at all, but file bytes
    empty.payload.assign(0x10, 0xf4);
    empty.loads.push_back(Load{0x100000, 0, 0x10, 0});
    empty.loads[0].offset = empty.payload_offset();
    expect_refused(empty, "filesz0.elf", "4M", "more bytes in the file");
}

TEST(VmmHostileImage, SegmentsThatWrapAroundTheAddressSpaceAreRefused) {
    ElfImage image;
    image.loads.push_back(Load{0xfffffffffffff000, 0, 0, 0x2000});
    expect_refused(image, "wrap.elf", "4M", "wraps around the end of the address space");
    ElfImage whole;  // the largest size, from 2: its last byte would be at 2^64
    whole.loads.push_back(Load{2, 0, 0, ~std::uint64_t{0}});
    expect_refused(whole, "wrap-all.elf", "4M", "wraps around");
    ElfImage to_the_end;  // from 1: its last byte is the last address, no wrap, but far beyond RAM
    to_the_end.loads.push_back(Load{1, 0, 0, ~std::uint64_t{0}});
    expect_refused(to_the_end, "to-the-end.elf", "4M", "[0x1, 0x10000000000000000) does not fit in RAM");
}

TEST(VmmHostileImage, AFlatBinaryLargerThanRamIsRefused) {
    const std::string path = image_path("big.bin");
    std::vector<char> bytes(0x100001, '\xf4');  // from 1 MiB: one byte past 2 MiB
    std::ofstream(path, std::ios::binary | std::ios::trunc)
        .write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    const Ended e = run_child({"run", "--arch", "x86_64", "--ram", "2M", "--image", path});
    EXPECT_EQ(e.exit_status, 2) << e.output;
    EXPECT_NE(e.output.find("does not fit in RAM [0x0, 0x200000)"), std::string::npos) << e.output;
}

TEST(VmmHostileImage, SegmentsLoadTheirFileBytesAndZerosAfter) {
    // Reads a word of segment 0's zero part and a word of segment 1's file
    // bytes, adds them, and writes the sum to the exit register:
    //   mov eax, [0x200000]; add eax, [0x300000]; mov [0xfe002000], eax; hlt
    if (auto emu = guestmem::choose_backend(guestmem::BackendKind::emu, guestmem::Arch::x86_64); !emu) {
        GTEST_SKIP() << "the emulator cannot run x86_64 guests here: " << emu.error().message;
    }
    const std::vector<unsigned char> code = {
        0xa1, 0x00, 0x00, 0x20, 0x00, 0x00, 0x00, 0x00, 0x00,  // mov eax, [moffs64]
        0x03, 0x04, 0x25, 0x00, 0x00, 0x30, 0x00,              // add eax, [disp32]
        0xa3, 0x00, 0x20, 0x00, 0xfe, 0x00, 0x00, 0x00, 0x00,  // mov [moffs64], eax
        0xf4};
    ElfImage image;
    image.loads.push_back(Load{0x100000, 0, 0, 0});  // set below
    image.loads.push_back(Load{0x300000, 0, 4, 4});
    const std::uint64_t base = image.payload_offset();
    image.payload = code;
    // What follows segment 0's file bytes in the file is not zero: a loader
    // that copied its memory size from the file would make the sum wrong.
    image.payload.resize(0x40, 0x55);
    const unsigned char seven[] = {7, 0, 0, 0};
    image.payload.insert(image.payload.end(), seven, seven + 4);
    image.loads[0] = Load{0x100000, base, code.size(), 0x101000};  // to 0x201000: 0x200000 is in its zero part
    image.loads[1].offset = base + 0x40;
    const std::string path = image_path("bss.elf");
    image.write(path);
    const Ended e = run_child({"run", "--backend", "emu", "--arch", "x86_64", "--image", path, "--timeout", "20"});
    EXPECT_EQ(e.exit_status, 7) << "0 from the zero part plus 7 from the file:\n" << e.output;
    EXPECT_NE(e.output.find("exited, exit status 7"), std::string::npos) << e.output;
}

}  // namespace
