// SPDX-License-Identifier: BSD-2-Clause
#include "x86_64_boot.hpp"

#include <cstring>
#include <string>

#include "guestmem/guest_memory.hpp"
#include "guestmem/vcpu.hpp"

namespace guestmem {

namespace {

constexpr std::uint64_t kGiB = std::uint64_t{1} << 30;
constexpr std::uint64_t kMaxIdentity = 512 * kGiB;  // one PDPT

}  // namespace

std::uint64_t x86_boot_tables_size(std::uint64_t identity_bytes) {
    const std::uint64_t directories = (identity_bytes + kGiB - 1) / kGiB;
    return (3 + directories) * kPageSize;
}

}  // namespace guestmem

namespace guestmem::arch {

namespace {

// Selectors of the GDT written by build_x86_tables.
constexpr std::uint16_t kCode64 = 0x08;
constexpr std::uint16_t kData = 0x10;
constexpr std::uint16_t kTss = 0x18;
constexpr std::uint16_t kGdtBytes = 0x28;  // null, code, data, 16-byte TSS descriptor
constexpr std::uint64_t kTssOffset = 0x100;
constexpr std::uint32_t kTssLimit = 0x67;  // a 64-bit TSS is 104 bytes

// Descriptor types.
constexpr std::uint8_t kTypeCode = 0xb;     // execute/read, accessed
constexpr std::uint8_t kTypeData = 0x3;     // read/write, accessed
constexpr std::uint8_t kTypeBusyTss = 0xb;  // busy 64-bit TSS (system descriptor)
constexpr std::uint8_t kTypeLdt = 0x2;

// Page-table entry bits.
constexpr std::uint64_t kPresent = 1u << 0;
constexpr std::uint64_t kWritable = 1u << 1;
constexpr std::uint64_t kLargePage = 1u << 7;

// Control-register bits.
constexpr std::uint64_t kCr0Pe = 1u << 0, kCr0Mp = 1u << 1, kCr0Et = 1u << 4, kCr0Ne = 1u << 5;
constexpr std::uint64_t kCr0Wp = 1u << 16, kCr0Am = 1u << 18, kCr0Pg = 1u << 31;
constexpr std::uint64_t kCr4Pae = 1u << 5, kCr4Osfxsr = 1u << 9, kCr4Osxmmexcpt = 1u << 10;
constexpr std::uint64_t kEferLme = 1u << 8, kEferLma = 1u << 10;

constexpr GuestAddr kRealModeLimit = GuestAddr{1} << 20;

void put64(std::vector<std::byte>& bytes, std::uint64_t offset, std::uint64_t value) {
    std::memcpy(bytes.data() + offset, &value, sizeof value);  // x86 is little-endian, like the host
}

// A code or data descriptor with base 0 and a 4 GiB limit.
std::uint64_t flat_descriptor(std::uint8_t type, bool long_mode, bool big) {
    const std::uint64_t access = 0x80u /*present*/ | 0x10u /*code/data*/ | type;
    const std::uint64_t flags = 0x8u /*4 KiB granularity*/ | (big ? 0x4u : 0u) | (long_mode ? 0x2u : 0u);
    return 0xffffu | (access << 40) | (std::uint64_t{0xf} << 48) | (flags << 52);
}

// The hidden part of a segment register loaded from flat_descriptor.
X86Segment flat_segment(std::uint16_t selector, std::uint8_t type, bool long_mode) {
    X86Segment s;
    s.base = 0;
    s.limit = 0xffffffff;
    s.selector = selector;
    s.type = type;
    s.present = true;
    s.dpl = 0;
    s.db = !long_mode;  // D must be 0 when L is 1
    s.s = true;
    s.l = long_mode;
    s.g = true;
    return s;
}

X86Segment real_segment(std::uint16_t selector, std::uint8_t type) {
    X86Segment s;
    s.base = std::uint64_t{selector} << 4;
    s.limit = 0xffff;
    s.selector = selector;
    s.type = type;
    s.present = true;
    s.s = true;
    return s;
}

Result<void> check_long_mode(const BootSpec& spec) {
    if (auto ok = check_x86_tables(spec.x86_tables, spec.identity_bytes); !ok) return ok;
    if (spec.entry >= spec.identity_bytes) {
        return fail(Errc::invalid_argument, "entry point lies outside the identity-mapped range");
    }
    if (spec.stack > spec.identity_bytes) {
        return fail(Errc::invalid_argument, "stack lies outside the identity-mapped range");
    }
    return {};
}

Result<void> check_real_mode(const BootSpec& spec) {
    if (spec.entry >= kRealModeLimit || (spec.entry & 0xf) != 0) {
        return fail(Errc::invalid_argument, "real-mode entry must be 16-byte aligned and below 1 MiB");
    }
    if (spec.stack > 0xffff) {
        return fail(Errc::invalid_argument, "real-mode stack pointer must fit in 16 bits (SP within the segment)");
    }
    return {};
}

Result<void> apply(Vcpu& vcpu, const X86SystemState& state, const X86Registers& registers) {
    if (auto set = vcpu.set_system_state(state); !set) return set;
    return vcpu.set_registers(registers);
}

}  // namespace

X86BootTables x86_tables_layout(GuestAddr base, std::uint64_t identity_bytes) {
    X86BootTables t;
    t.base = base;
    t.gdt = base;
    t.tss = base + kTssOffset;
    t.pml4 = base + kPageSize;
    t.identity_mapped = identity_bytes;
    t.bytes = x86_boot_tables_size(identity_bytes);
    return t;
}

Result<void> check_x86_tables(GuestAddr base, std::uint64_t identity_bytes) {
    if ((base & (kPageSize - 1)) != 0) return fail(Errc::invalid_argument, "x86 boot tables must be page aligned");
    if (identity_bytes == 0 || identity_bytes % kGiB != 0 || identity_bytes > kMaxIdentity) {
        return fail(Errc::invalid_argument, "identity mapping must be a multiple of 1 GiB up to 512 GiB");
    }
    if (!fits_address_space(base, x86_boot_tables_size(identity_bytes))) {
        return fail(Errc::invalid_argument, "x86 boot tables wrap past the top of the address space");
    }
    return {};
}

std::vector<std::byte> build_x86_tables(const X86BootTables& t) {
    std::vector<std::byte> bytes(t.bytes);
    // GDT: null, 64-bit code, data, then the 16-byte system descriptor of the TSS.
    put64(bytes, kCode64, flat_descriptor(kTypeCode, true, false));
    put64(bytes, kData, flat_descriptor(kTypeData, false, true));
    const std::uint64_t tss = t.tss;
    const std::uint64_t tss_low = (kTssLimit & 0xffffu) | ((tss & 0xffffffu) << 16) |
                                  (std::uint64_t{0x80u | kTypeBusyTss} << 40) /*present*/ |
                                  (((tss >> 24) & 0xffu) << 56);
    put64(bytes, kTss, tss_low);
    put64(bytes, kTss + 8, tss >> 32);
    // The TSS stays zero except its I/O map base, which points past its end (no I/O bitmap).
    put64(bytes, kTssOffset + 0x60, std::uint64_t{kTssLimit + 1} << 48);  // the 16 bits at 0x66

    const std::uint64_t pml4 = kPageSize, pdpt = 2 * kPageSize, directories = 3 * kPageSize;
    put64(bytes, pml4, (t.base + pdpt) | kPresent | kWritable);
    const std::uint64_t gigabytes = t.identity_mapped / kGiB;
    for (std::uint64_t g = 0; g < gigabytes; ++g) {
        const std::uint64_t directory = directories + g * kPageSize;
        put64(bytes, pdpt + g * 8, (t.base + directory) | kPresent | kWritable);
        for (std::uint64_t i = 0; i < 512; ++i) {
            const std::uint64_t physical = g * kGiB + (i << 21);
            put64(bytes, directory + i * 8, physical | kPresent | kWritable | kLargePage);
        }
    }
    return bytes;
}

X86SystemState x86_long_mode_state(const X86BootTables& t) {
    X86SystemState s;
    s.cs = flat_segment(kCode64, kTypeCode, true);
    const X86Segment data = flat_segment(kData, kTypeData, false);
    s.ds = s.es = s.fs = s.gs = s.ss = data;
    s.tr = X86Segment{};
    s.tr.base = t.tss;
    s.tr.limit = kTssLimit;
    s.tr.selector = kTss;
    s.tr.type = kTypeBusyTss;
    s.tr.present = true;
    s.ldt = X86Segment{};  // not present: unusable
    s.ldt.type = kTypeLdt;
    s.gdt = X86Table{t.gdt, static_cast<std::uint16_t>(kGdtBytes - 1)};
    s.idt = X86Table{0, 0};  // no IDT: an exception becomes a triple fault
    s.cr0 = kCr0Pe | kCr0Mp | kCr0Et | kCr0Ne | kCr0Wp | kCr0Am | kCr0Pg;
    s.cr3 = t.pml4;
    s.cr4 = kCr4Pae | kCr4Osfxsr | kCr4Osxmmexcpt;
    s.efer = kEferLme | kEferLma;
    return s;
}

X86SystemState x86_real_mode_state(std::uint16_t segment) {
    X86SystemState s;
    s.cs = real_segment(segment, kTypeCode);
    const X86Segment data = real_segment(segment, kTypeData);
    s.ds = s.es = s.fs = s.gs = s.ss = data;
    // Task register and LDT as after reset: real mode ignores them, VM entry checks them.
    s.tr = X86Segment{};
    s.tr.limit = 0xffff;
    s.tr.type = kTypeBusyTss;
    s.tr.present = true;
    s.ldt = X86Segment{};
    s.ldt.limit = 0xffff;
    s.ldt.type = kTypeLdt;
    s.ldt.present = true;
    s.gdt = X86Table{0, 0xffff};
    s.idt = X86Table{0, 0x3ff};  // the real-mode interrupt vector table
    s.cr0 = kCr0Et;
    s.cr3 = 0;
    s.cr4 = 0;
    s.efer = 0;
    return s;
}

X86Registers x86_boot_registers(GuestAddr rip, GuestAddr rsp, const std::array<std::uint64_t, 4>& args) {
    X86Registers r;
    r.rdi = args[0];
    r.rsi = args[1];
    r.rdx = args[2];
    r.rcx = args[3];
    r.rip = rip;
    r.rsp = rsp;
    r.rflags = 0x2;  // bit 1 is always set; IF clear: no interrupts
    return r;
}

Result<void> boot_x86_64(Vcpu& vcpu, const BootSpec& spec) {
    if (spec.x86_real_mode) {
        if (auto ok = check_real_mode(spec); !ok) return ok;
        const auto segment = static_cast<std::uint16_t>(spec.entry >> 4);
        return apply(vcpu, x86_real_mode_state(segment), x86_boot_registers(0, spec.stack, spec.args));
    }
    if (auto ok = check_long_mode(spec); !ok) return ok;
    const X86BootTables layout = x86_tables_layout(spec.x86_tables, spec.identity_bytes);
    // WriteRights::guest: tables in read-only memory would fault when the CPU sets accessed bits.
    if (auto written = write_guest(vcpu.vm(), layout.base, build_x86_tables(layout), WriteRights::guest); !written) {
        return written;
    }
    return apply(vcpu, x86_long_mode_state(layout), x86_boot_registers(spec.entry, spec.stack, spec.args));
}

}  // namespace guestmem::arch
