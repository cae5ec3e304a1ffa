#include "guest_setup.hpp"

#include <cstring>

namespace guestmem::kvm {

namespace {

constexpr std::uint64_t kGiB = std::uint64_t{1} << 30;
constexpr std::uint64_t kMaxIdentity = 512 * kGiB;  // one PDPT

// Selectors of the GDT written by build_boot_tables.
constexpr std::uint16_t kCode64 = 0x08;
constexpr std::uint16_t kData = 0x10;
constexpr std::uint16_t kTss = 0x18;
constexpr std::uint64_t kGdtBytes = 0x28;  // null, code, data, 16-byte TSS descriptor
constexpr std::uint64_t kTssOffset = 0x100;
constexpr std::uint32_t kTssLimit = 0x67;  // a 64-bit TSS is 104 bytes

// Page-table entry bits.
constexpr std::uint64_t kPresent = 1u << 0;
constexpr std::uint64_t kWritable = 1u << 1;
constexpr std::uint64_t kLargePage = 1u << 7;

// Control-register bits.
constexpr std::uint64_t kCr0Pe = 1u << 0, kCr0Mp = 1u << 1, kCr0Et = 1u << 4, kCr0Ne = 1u << 5;
constexpr std::uint64_t kCr0Wp = 1u << 16, kCr0Am = 1u << 18, kCr0Pg = 1u << 31;
constexpr std::uint64_t kCr4Pae = 1u << 5, kCr4Osfxsr = 1u << 9, kCr4Osxmmexcpt = 1u << 10;
constexpr std::uint64_t kEferLme = 1u << 8, kEferLma = 1u << 10;

void put64(std::vector<std::byte>& bytes, std::uint64_t offset, std::uint64_t value) {
    std::memcpy(bytes.data() + offset, &value, sizeof value);  // x86 is little-endian, like the host
}

// A code or data descriptor with base 0 and a 4 GiB limit.
std::uint64_t flat_descriptor(std::uint8_t type, bool long_mode, bool big) {
    const std::uint64_t access = 0x80u /*present*/ | 0x10u /*code/data*/ | type;
    const std::uint64_t flags = 0x8u /*4 KiB granularity*/ | (big ? 0x4u : 0u) | (long_mode ? 0x2u : 0u);
    return 0xffffu | (access << 40) | (std::uint64_t{0xf} << 48) | (flags << 52);
}

kvm_segment flat_segment(std::uint16_t selector, std::uint8_t type, bool long_mode) {
    kvm_segment s{};
    s.base = 0;
    s.limit = 0xffffffff;
    s.selector = selector;
    s.type = type;
    s.present = 1;
    s.dpl = 0;
    s.db = long_mode ? 0 : 1;  // D must be 0 when L is 1
    s.s = 1;
    s.l = long_mode ? 1 : 0;
    s.g = 1;
    return s;
}

kvm_segment real_segment(std::uint16_t selector, std::uint8_t type) {
    kvm_segment s{};
    s.base = std::uint64_t{selector} << 4;
    s.limit = 0xffff;
    s.selector = selector;
    s.type = type;
    s.present = 1;
    s.s = 1;
    return s;
}

}  // namespace

BootTables boot_tables_layout(GuestAddr base, std::uint64_t identity_bytes) {
    BootTables t;
    t.base = base;
    t.gdt = base;
    t.tss = base + kTssOffset;
    t.pml4 = base + kPageSize;
    t.identity_mapped = identity_bytes;
    t.bytes = boot_tables_size(identity_bytes);
    return t;
}

std::uint64_t boot_tables_size(std::uint64_t identity_bytes) {
    const std::uint64_t directories = (identity_bytes + kGiB - 1) / kGiB;
    return (3 + directories) * kPageSize;
}

Result<void> check_boot_tables(GuestAddr base, std::uint64_t identity_bytes) {
    if ((base & (kPageSize - 1)) != 0) return fail(Errc::invalid_argument, "boot tables must be page aligned");
    if (identity_bytes == 0 || identity_bytes % kGiB != 0 || identity_bytes > kMaxIdentity) {
        return fail(Errc::invalid_argument, "identity mapping must be a multiple of 1 GiB up to 512 GiB");
    }
    if (!fits_address_space(base, boot_tables_size(identity_bytes))) {
        return fail(Errc::invalid_argument, "boot tables wrap past the top of the address space");
    }
    return {};
}

std::vector<std::byte> build_boot_tables(const BootTables& t) {
    std::vector<std::byte> bytes(t.bytes);
    // GDT: null, 64-bit code, data, then the 16-byte system descriptor of the TSS.
    put64(bytes, kCode64, flat_descriptor(0xb, true, false));
    put64(bytes, kData, flat_descriptor(0x3, false, true));
    const std::uint64_t tss = t.tss;
    const std::uint64_t tss_low = (kTssLimit & 0xffffu) | ((tss & 0xffffffu) << 16) |
                                  (std::uint64_t{0x8b} << 40) /*present, busy 64-bit TSS*/ |
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

void apply_long_mode(kvm_sregs& sregs, const BootTables& t) {
    sregs.cs = flat_segment(kCode64, 0xb, true);
    const kvm_segment data = flat_segment(kData, 0x3, false);
    sregs.ds = sregs.es = sregs.fs = sregs.gs = sregs.ss = data;
    sregs.tr = kvm_segment{};
    sregs.tr.base = t.tss;
    sregs.tr.limit = kTssLimit;
    sregs.tr.selector = kTss;
    sregs.tr.type = 0xb;
    sregs.tr.present = 1;
    sregs.ldt = kvm_segment{};
    sregs.ldt.type = 0x2;
    sregs.ldt.unusable = 1;
    sregs.gdt.base = t.gdt;
    sregs.gdt.limit = kGdtBytes - 1;
    sregs.idt.base = 0;
    sregs.idt.limit = 0;  // no IDT: an exception becomes a triple fault, which run() reports
    sregs.cr0 = kCr0Pe | kCr0Mp | kCr0Et | kCr0Ne | kCr0Wp | kCr0Am | kCr0Pg;
    sregs.cr3 = t.pml4;
    sregs.cr4 = kCr4Pae | kCr4Osfxsr | kCr4Osxmmexcpt;
    sregs.efer = kEferLme | kEferLma;
}

void apply_real_mode(kvm_sregs& sregs, std::uint16_t segment) {
    sregs.cs = real_segment(segment, 0xb);
    const kvm_segment data = real_segment(segment, 0x3);
    sregs.ds = sregs.es = sregs.fs = sregs.gs = sregs.ss = data;
    // Task register and LDT as after reset: real mode ignores them, VM entry checks them.
    sregs.tr = kvm_segment{};
    sregs.tr.limit = 0xffff;
    sregs.tr.type = 0xb;
    sregs.tr.present = 1;
    sregs.ldt = kvm_segment{};
    sregs.ldt.limit = 0xffff;
    sregs.ldt.type = 0x2;
    sregs.ldt.present = 1;
    sregs.gdt.base = 0;
    sregs.gdt.limit = 0xffff;
    sregs.idt.base = 0;
    sregs.idt.limit = 0x3ff;  // the real-mode interrupt vector table
    sregs.cr0 = kCr0Et;
    sregs.cr3 = 0;
    sregs.cr4 = 0;
    sregs.efer = 0;
}

kvm_regs initial_registers(GuestAddr rip, GuestAddr rsp, const GuestArgs& args) {
    kvm_regs regs{};
    regs.rdi = args[0];
    regs.rsi = args[1];
    regs.rdx = args[2];
    regs.rcx = args[3];
    regs.rip = rip;
    regs.rsp = rsp;
    regs.rflags = 0x2;  // bit 1 is always set; IF clear: no interrupts
    return regs;
}

}  // namespace guestmem::kvm
