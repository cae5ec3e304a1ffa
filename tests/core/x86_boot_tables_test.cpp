// SPDX-License-Identifier: BSD-2-Clause
// The x86-64 architecture layer's pieces: the boot tables and the CPU state
// long and real mode start from (src/arch/x86_64_boot.hpp). Pure: no VM.
#include <gtest/gtest.h>

#include <cstring>

#include "x86_64_boot.hpp"

namespace guestmem::arch {
namespace {

std::uint64_t word(const std::vector<std::byte>& bytes, std::uint64_t offset) {
    std::uint64_t v;
    std::memcpy(&v, bytes.data() + offset, sizeof v);
    return v;
}

TEST(X86BootTables, LayoutAndSize) {
    EXPECT_EQ(x86_boot_tables_size(std::uint64_t{4} << 30), 7 * kPageSize);
    EXPECT_EQ(x86_boot_tables_size(std::uint64_t{1} << 30), 4 * kPageSize);
    const X86BootTables t = x86_tables_layout(0x1000, std::uint64_t{4} << 30);
    EXPECT_EQ(t.gdt, 0x1000u);
    EXPECT_EQ(t.tss, 0x1100u);
    EXPECT_EQ(t.pml4, 0x2000u);
    EXPECT_EQ(t.bytes, 7 * kPageSize);
}

TEST(X86BootTables, IdentityMapWith2MiBPages) {
    const X86BootTables t = x86_tables_layout(0x1000, std::uint64_t{2} << 30);
    const auto bytes = build_x86_tables(t);
    ASSERT_EQ(bytes.size(), t.bytes);
    EXPECT_EQ(word(bytes, 0x1000), 0x3003u);  // PML4[0] -> PDPT, present + writable
    EXPECT_EQ(word(bytes, 0x1008), 0u);
    EXPECT_EQ(word(bytes, 0x2000), 0x4003u);    // PDPT[0] -> first page directory
    EXPECT_EQ(word(bytes, 0x2008), 0x5003u);    // PDPT[1] -> second
    EXPECT_EQ(word(bytes, 0x2010), 0u);         // nothing past 2 GiB
    EXPECT_EQ(word(bytes, 0x3000), 0x83u);      // 2 MiB page at 0
    EXPECT_EQ(word(bytes, 0x3008), 0x200083u);  // at 2 MiB
    EXPECT_EQ(word(bytes, 0x4000 + 511 * 8), ((std::uint64_t{2} << 30) - (2u << 20)) | 0x83u);
}

TEST(X86BootTables, GdtAndTss) {
    const X86BootTables t = x86_tables_layout(0x1000, std::uint64_t{1} << 30);
    const auto bytes = build_x86_tables(t);
    EXPECT_EQ(word(bytes, 0x00), 0u);
    EXPECT_EQ(word(bytes, 0x08), 0x00af9b000000ffffu);  // 64-bit code
    EXPECT_EQ(word(bytes, 0x10), 0x00cf93000000ffffu);  // data
    EXPECT_EQ(word(bytes, 0x18), 0x00008b0011000067u);  // busy 64-bit TSS at 0x1100
    EXPECT_EQ(word(bytes, 0x20), 0u);
    std::uint16_t iomap = 0;
    std::memcpy(&iomap, bytes.data() + 0x100 + 0x66, 2);
    EXPECT_EQ(iomap, 0x68);
}

TEST(X86BootTables, RejectsBadArguments) {
    EXPECT_EQ(check_x86_tables(0x1800, std::uint64_t{1} << 30).code(), Errc::invalid_argument);
    EXPECT_EQ(check_x86_tables(0x1000, 0).code(), Errc::invalid_argument);
    EXPECT_EQ(check_x86_tables(0x1000, std::uint64_t{3} << 29).code(), Errc::invalid_argument);
    EXPECT_EQ(check_x86_tables(0x1000, std::uint64_t{513} << 30).code(), Errc::invalid_argument);
    EXPECT_EQ(check_x86_tables(~std::uint64_t{0xfff}, std::uint64_t{1} << 30).code(), Errc::invalid_argument);
    EXPECT_TRUE(check_x86_tables(0x1000, std::uint64_t{512} << 30));
}

TEST(X86BootState, LongModeRegisters) {
    const X86BootTables t = x86_tables_layout(0x1000, std::uint64_t{4} << 30);
    const X86SystemState s = x86_long_mode_state(t);
    EXPECT_EQ(s.cr3, 0x2000u);
    EXPECT_EQ(s.efer & 0x500, 0x500u);  // LME | LMA
    EXPECT_TRUE(s.cr0 & 0x80000001u);   // PG | PE
    EXPECT_TRUE(s.cr4 & 0x20u);         // PAE
    EXPECT_TRUE(s.cs.l);
    EXPECT_FALSE(s.cs.db);
    EXPECT_TRUE(s.cs.present);
    EXPECT_FALSE(s.ldt.present);  // unusable
    EXPECT_EQ(s.cs.selector, 0x08);
    EXPECT_EQ(s.ss.selector, 0x10);
    EXPECT_EQ(s.tr.base, 0x1100u);
    EXPECT_EQ(s.gdt.limit, 0x27);
    const X86Registers r = x86_boot_registers(0x10000, 0x80000, {1, 2, 3, 4});
    EXPECT_EQ(r.rip, 0x10000u);
    EXPECT_EQ(r.rsp, 0x80000u);
    EXPECT_EQ(r.rdi, 1u);
    EXPECT_EQ(r.rsi, 2u);
    EXPECT_EQ(r.rdx, 3u);
    EXPECT_EQ(r.rcx, 4u);
    EXPECT_EQ(r.rflags, 2u);
}

TEST(X86BootState, RealModeSegments) {
    const X86SystemState s = x86_real_mode_state(0x1000);
    EXPECT_EQ(s.cs.selector, 0x1000);
    EXPECT_EQ(s.cs.base, 0x10000u);
    EXPECT_EQ(s.ds.base, 0x10000u);
    EXPECT_EQ(s.cs.limit, 0xffffu);
    EXPECT_EQ(s.cr0 & 1u, 0u);
    EXPECT_EQ(s.efer, 0u);
}

}  // namespace
}  // namespace guestmem::arch
