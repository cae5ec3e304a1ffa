// SPDX-License-Identifier: BSD-2-Clause
// The memory map table and picture of a demo machine.
#include <gtest/gtest.h>

#include "machine.hpp"
#include "report/memory_map.hpp"
#include "report/units.hpp"

namespace {

std::unique_ptr<vmm::Machine> pair_member(std::shared_ptr<guestmem::CapabilitySpace> caps, guestmem::Cap shared) {
    vmm::MachineOptions options;
    options.backend = guestmem::BackendKind::sim;
    options.doorbell = std::make_shared<vmm::DoorbellLine>();
    options.shared_frame = shared;
    return std::move(vmm::Machine::build(options, std::move(caps)).value());
}

}  // namespace

TEST(MemoryMap, ListsEveryReservationInAddressOrder) {
    auto caps = std::make_shared<guestmem::CapabilitySpace>();
    const guestmem::Cap shared = caps->allocate_frame(guestmem::FrameSize::k4KiB).value();
    auto machine = pair_member(caps, shared);
    auto rows = vmm::memory_map(*machine);
    std::vector<std::string> names;
    for (const auto& row : rows) names.push_back(row.name);
    EXPECT_EQ(names, (std::vector<std::string>{"ram", "rom", "uart", "exit", "doorbell", "shared"}));
    EXPECT_EQ(rows[0].frames, 1024u);
    EXPECT_EQ(rows[0].slots, 1u);  // consecutive frames coalesce into one run
    EXPECT_EQ(rows[0].rights, "rw");
    EXPECT_EQ(rows[1].rights, "r-");
    EXPECT_EQ(rows[2].rights, "trap");
    const std::string table = vmm::memory_map_table(rows);
    EXPECT_NE(table.find("6 reservations, 1026 frames mapped in 3 memory slots"), std::string::npos) << table;
}

TEST(MemoryMap, SvgIsWellFormedAndShowsSmallRegions) {
    auto caps = std::make_shared<guestmem::CapabilitySpace>();
    const guestmem::Cap shared = caps->allocate_frame(guestmem::FrameSize::k4KiB).value();
    auto machine = pair_member(caps, shared);
    const std::string svg = vmm::memory_map_svg(vmm::memory_map(*machine), "test <map>");
    EXPECT_EQ(svg.rfind("<?xml", 0), 0u);
    EXPECT_NE(svg.find("<title>test &lt;map&gt;</title>"), std::string::npos);
    // Tags balance: every <g> and <svg> is closed.
    auto count = [&](const std::string& s) {
        std::size_t n = 0;
        for (std::size_t p = svg.find(s); p != std::string::npos; p = svg.find(s, p + 1)) ++n;
        return n;
    };
    EXPECT_EQ(count("<g "), count("</g>"));
    EXPECT_EQ(count("<svg "), 1u);
    EXPECT_EQ(count("</svg>"), 1u);
    EXPECT_EQ(count("class=\"region\""), 6u);
    // The 4-byte exit register gets a visible box (at least 20 px high).
    const auto exit = svg.find("data-name=\"exit\"");
    ASSERT_NE(exit, std::string::npos);
    const auto height = svg.find("height=\"", exit);
    EXPECT_GE(std::stoi(svg.substr(height + 8)), 20);
}

TEST(Units, SizesAndAddresses) {
    EXPECT_EQ(vmm::human_size(8), "8 B");
    EXPECT_EQ(vmm::human_size(4096), "4 KiB");
    EXPECT_EQ(vmm::human_size(3 << 19), "1.5 MiB");
    EXPECT_EQ(vmm::human_size(std::uint64_t{1} << 30), "1 GiB");
    EXPECT_EQ(vmm::address(0xfe001000), "0xfe001000");
    EXPECT_EQ(vmm::address(0x100000000ull), "0x100000000");
}
