// SPDX-License-Identifier: BSD-2-Clause
// Numbers on the command line are checked as numbers (issue 20, item 6):
// one parser per kind (count, size, duration), strict about its text, and
// every numeric flag a usage error naming the flag and its range.
#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <vector>

#include "cli_numbers.hpp"
#include "vmm_child.hpp"

namespace {

using namespace std::chrono_literals;
using vmm_test::Ended;
using vmm_test::run_child;

/// Text that is no number of any kind, or none that fits.
const std::vector<std::string> kNotNumbers = {"",
                                              "inf",
                                              "-inf",
                                              "nan",
                                              "NaN",
                                              "infinity",
                                              "1e300",
                                              "1e3",
                                              "-1",
                                              "+1",
                                              "0x",
                                              "0x-1",
                                              "12abc",
                                              " 4",
                                              "4 ",
                                              "4\t",
                                              "1.",
                                              ".5",
                                              "1..2",
                                              "1,5",
                                              "0b101",
                                              "0x1p3",
                                              "four",
                                              "18446744073709551616",
                                              "99999999999999999999999999999999"};

TEST(VmmCliNumbers, CountsAreDigitsOrHexAndFitSixtyFourBits) {
    EXPECT_EQ(vmm::parse_count("0"), 0u);
    EXPECT_EQ(vmm::parse_count("0042"), 42u) << "leading zeros are decimal, not octal";
    EXPECT_EQ(vmm::parse_count("0x1F"), 31u);
    EXPECT_EQ(vmm::parse_count("0XfF"), 255u);
    EXPECT_EQ(vmm::parse_count("18446744073709551615"), ~std::uint64_t{0});
    EXPECT_EQ(vmm::parse_count("0xffffffffffffffff"), ~std::uint64_t{0});
    EXPECT_FALSE(vmm::parse_count("0x10000000000000000"));
    EXPECT_FALSE(vmm::parse_count("1a"));
    EXPECT_FALSE(vmm::parse_count("0xg"));
    for (const auto& text : kNotNumbers) EXPECT_FALSE(vmm::parse_count(text)) << '"' << text << '"';
}

TEST(VmmCliNumbers, SizesTakeBinarySuffixesAndNeverOverflow) {
    EXPECT_EQ(vmm::parse_size("4096"), 4096u);
    EXPECT_EQ(vmm::parse_size("4K"), 4096u);
    EXPECT_EQ(vmm::parse_size("4k"), 4096u);
    EXPECT_EQ(vmm::parse_size("4KiB"), 4096u);
    EXPECT_EQ(vmm::parse_size("64M"), 64u << 20);
    EXPECT_EQ(vmm::parse_size("2MiB"), 2u << 20);
    EXPECT_EQ(vmm::parse_size("1G"), 1u << 30);
    EXPECT_EQ(vmm::parse_size("0x400000"), 4u << 20);
    EXPECT_EQ(vmm::parse_size("17179869183G"), (std::uint64_t{17179869183}) << 30);
    EXPECT_FALSE(vmm::parse_size("17179869184G")) << "2^64 bytes";
    EXPECT_FALSE(vmm::parse_size("16777216T"));
    EXPECT_FALSE(vmm::parse_size("K"));
    EXPECT_FALSE(vmm::parse_size("4KK"));
    EXPECT_FALSE(vmm::parse_size("4 M"));
    EXPECT_FALSE(vmm::parse_size("4MB"));
    EXPECT_FALSE(vmm::parse_size("1.5G"));
    for (const auto& text : kNotNumbers) EXPECT_FALSE(vmm::parse_size(text)) << '"' << text << '"';
}

TEST(VmmCliNumbers, DurationsAreDecimalAndFitNanoseconds) {
    EXPECT_EQ(vmm::parse_duration("30", 1s), 30s);
    EXPECT_EQ(vmm::parse_duration("0", 1s), 0s);
    EXPECT_EQ(vmm::parse_duration("0.5", 1s), 500ms);
    EXPECT_EQ(vmm::parse_duration("2.5", 1ms), 2500us);
    EXPECT_EQ(vmm::parse_duration("0.000000001", 1s), 1ns);
    EXPECT_FALSE(vmm::parse_duration("0.0000000001", 1s)) << "finer than a nanosecond";
    EXPECT_FALSE(vmm::parse_duration("0.0000001", 1ms)) << "a tenth of a nanosecond";
    EXPECT_EQ(vmm::parse_duration("9223372036", 1s), 9223372036s);
    EXPECT_FALSE(vmm::parse_duration("9223372037", 1s)) << "beyond the range of std::chrono::nanoseconds";
    EXPECT_FALSE(vmm::parse_duration("0x10", 1s)) << "durations are decimal";
    for (const auto& text : kNotNumbers) {
        EXPECT_FALSE(vmm::parse_duration(text, 1s)) << '"' << text << '"';
        EXPECT_FALSE(vmm::parse_duration(text, 1ms)) << '"' << text << '"';
    }
}

struct NumericFlag {
    std::vector<std::string> before;  ///< arguments before the value
    std::vector<std::string> after;   ///< after it
    std::string range;                ///< what the message says it accepts
    std::vector<std::string> also_refused;
};

/// Every numeric flag refuses what is not a number, and numbers out of its
/// range, as a usage error naming the flag and the range, before the VMM
/// looks for a backend.
TEST(VmmCliNumbers, EveryNumericFlagRefusesWhatIsNotANumberInItsRange) {
    const std::string dir = ::testing::TempDir() + "guestmem-vmm-numbers";
    const std::vector<NumericFlag> flags = {
        {{"run", "--ram"}, {}, "from 2M to 4064M in 4 KiB steps", {"0", "1M", "4097K", "4065M", "4G", "16E", "0x1"}},
        {{"run", "--timeout"}, {}, "from 0.001 to 604800", {"0.0001", "604800.001", "604801", "9223372037"}},
        {{"restore", "LATEST", "--timeout"}, {}, "from 0.001 to 604800", {"1e9"}},
        {{"run", "--snapshot-every"}, {dir}, "from 1 to 3600000", {"0", "0.5", "0.999", "3600001", "1e300"}},
        {{"restore", "LATEST", "--snapshot-every"}, {dir}, "from 1 to 3600000", {"0"}},
    };
    for (const auto& flag : flags) {
        std::vector<std::string> values = kNotNumbers;
        values.insert(values.end(), flag.also_refused.begin(), flag.also_refused.end());
        for (const auto& value : values) {
            std::vector<std::string> args = flag.before;
            args.push_back(value);
            args.insert(args.end(), flag.after.begin(), flag.after.end());
            const Ended e = run_child(args, std::chrono::seconds(30));
            const std::string& name = flag.before.back();
            SCOPED_TRACE(name + " \"" + value + "\"");
            EXPECT_EQ(e.exit_status, 2) << e.output;
            EXPECT_NE(e.output.find("guestmem-vmm: " + name + " "), std::string::npos) << e.output;
            EXPECT_NE(e.output.find(flag.range), std::string::npos) << e.output;
            EXPECT_EQ(e.output.find("guestmem-vmm: backend "), std::string::npos) << e.output;
        }
    }
}

TEST(VmmCliNumbers, NumbersInRangeAreAccepted) {
    // The sim backend runs at once, anywhere, and still reads --ram (the
    // script expects the default 4 MiB in the boot ROM).
    const std::string script = std::string(GUESTMEM_VMM_SOURCE_DIR) + "/scripts/hello.txt";
    for (const char* ram : {"4M", "0x400000", "4096K", "4MiB", "4194304"}) {
        const Ended e = run_child({"run", "--backend", "sim", "--script", script, "--ram", ram, "--map"});
        EXPECT_EQ(e.exit_status, 0) << ram << "\n" << e.output;
    }
    for (const char* timeout : {"0", "0.001", "30", "604800", "1.5"}) {
        const Ended e = run_child({"run", "--backend", "sim", "--script", script, "--timeout", timeout});
        EXPECT_EQ(e.exit_status, 0) << timeout << "\n" << e.output;
    }
}

}  // namespace
