// SPDX-License-Identifier: BSD-2-Clause
// Encoding and decoding of the snapshot format (format.hpp), and its checksum.
#include "format.hpp"

#include <nmmintrin.h>

namespace guestmem::snapshot::format {

namespace {

constexpr std::uint32_t kPolynomial = 0x82f63b78;  // CRC32C, reflected

struct Table {
    std::array<std::uint32_t, 256> entries{};
    Table() {
        for (std::uint32_t i = 0; i < 256; ++i) {
            std::uint32_t c = i;
            for (int k = 0; k < 8; ++k) c = (c & 1) ? (c >> 1) ^ kPolynomial : c >> 1;
            entries[i] = c;
        }
    }
};

std::uint32_t crc32c_table(std::span<const std::byte> bytes, std::uint32_t crc) {
    static const Table table;
    for (std::byte b : bytes) crc = table.entries[(crc ^ std::to_integer<std::uint8_t>(b)) & 0xff] ^ (crc >> 8);
    return crc;
}

__attribute__((target("sse4.2"))) std::uint32_t crc32c_sse42(std::span<const std::byte> bytes, std::uint32_t crc) {
    std::uint64_t c = crc;
    std::size_t i = 0;
    for (; i + 8 <= bytes.size(); i += 8) {
        std::uint64_t word = 0;
        std::memcpy(&word, bytes.data() + i, 8);
        c = _mm_crc32_u64(c, word);
    }
    auto c32 = static_cast<std::uint32_t>(c);
    for (; i < bytes.size(); ++i) c32 = _mm_crc32_u8(c32, std::to_integer<std::uint8_t>(bytes[i]));
    return c32;
}

__attribute__((target("sse4.2"))) void crc32c_three_sse42(const std::byte* a, const std::byte* b, const std::byte* c,
                                                          std::uint32_t* out) {
    std::uint64_t x = 0xffffffff, y = 0xffffffff, z = 0xffffffff;
    for (std::size_t i = 0; i < kPageSize; i += 8) {
        std::uint64_t wa = 0, wb = 0, wc = 0;
        std::memcpy(&wa, a + i, 8);
        std::memcpy(&wb, b + i, 8);
        std::memcpy(&wc, c + i, 8);
        x = _mm_crc32_u64(x, wa);
        y = _mm_crc32_u64(y, wb);
        z = _mm_crc32_u64(z, wc);
    }
    out[0] = ~static_cast<std::uint32_t>(x);
    out[1] = ~static_cast<std::uint32_t>(y);
    out[2] = ~static_cast<std::uint32_t>(z);
}

void put_segment(Writer& w, const X86Segment& s) {
    w.u64(s.base);
    w.u32(s.limit);
    w.u16(s.selector);
    w.u8(s.type);
    w.u8(s.present);
    w.u8(s.dpl);
    w.u8(s.db);
    w.u8(s.s);
    w.u8(s.l);
    w.u8(s.g);
}

X86Segment get_segment(Reader& r) {
    X86Segment s;
    s.base = r.u64();
    s.limit = r.u32();
    s.selector = r.u16();
    s.type = r.u8();
    s.present = r.u8() != 0;
    s.dpl = r.u8();
    s.db = r.u8() != 0;
    s.s = r.u8() != 0;
    s.l = r.u8() != 0;
    s.g = r.u8() != 0;
    return s;
}

}  // namespace

std::uint32_t crc32c(std::span<const std::byte> bytes, std::uint32_t crc) {
    static const bool sse42 = __builtin_cpu_supports("sse4.2");
    crc = ~crc;
    crc = sse42 ? crc32c_sse42(bytes, crc) : crc32c_table(bytes, crc);
    return ~crc;
}

void crc32c_pages(const std::byte* const* pages, std::size_t count, std::uint32_t* out) {
    static const bool sse42 = __builtin_cpu_supports("sse4.2");
    std::size_t i = 0;
    if (sse42) {
        for (; i + 3 <= count; i += 3) crc32c_three_sse42(pages[i], pages[i + 1], pages[i + 2], out + i);
    }
    for (; i < count; ++i) out[i] = crc32c(std::span(pages[i], kPageSize));
}

bool all_zero(const std::byte* page, std::size_t bytes) {
    // 64 bytes at a time: the compiler vectorises the OR, and a non-zero
    // page (the usual early exit) costs one block.
    for (std::size_t i = 0; i < bytes; i += 64) {
        std::uint64_t words[8];
        std::memcpy(words, page + i, 64);
        std::uint64_t any = 0;
        for (std::uint64_t w : words) any |= w;
        if (any != 0) return false;
    }
    return true;
}

std::vector<std::byte> encode_header(const Header& h) {
    Writer w;
    for (char c : kMagic) w.u8(static_cast<std::uint8_t>(c));
    w.u32(h.version);
    w.u32(h.header_bytes);
    w.u64(h.id);
    w.u64(h.parent_id);
    w.u32(h.flags);
    w.u32(static_cast<std::uint32_t>(h.arch));
    w.u64(h.layout_offset);
    w.u64(h.layout_bytes);
    w.u64(h.vcpu_offset);
    w.u64(h.vcpu_bytes);
    w.u64(h.data_offset);
    w.u64(h.data_bytes);
    w.u64(h.stored_pages);
    w.u64(h.omitted_pages);
    w.u32(h.checksum);
    w.u16(static_cast<std::uint16_t>(h.parent.size()));
    w.raw(std::as_bytes(std::span(h.parent.data(), h.parent.size())));
    if (h.version >= kApplicationVersion) {
        w.u64(h.application_offset);
        w.u64(h.application_bytes);
    }
    return std::move(w.bytes());
}

std::optional<Header> decode_header(std::span<const std::byte> bytes, std::string& why) {
    if (bytes.size() < kMagic.size() || std::memcmp(bytes.data(), kMagic.data(), kMagic.size()) != 0) {
        why = "not a snapshot file (no GMSNAP magic)";
        return std::nullopt;
    }
    Reader r(bytes.subspan(kMagic.size()));
    Header h;
    h.version = r.u32();
    if (!r.failed() && h.version > kVersion) {
        why =
            "format version " + std::to_string(h.version) + " is newer than the supported " + std::to_string(kVersion);
        return std::nullopt;
    }
    if (!r.failed() && h.version == 0) {
        why = "format version 0 does not exist";
        return std::nullopt;
    }
    h.header_bytes = r.u32();
    h.id = r.u64();
    h.parent_id = r.u64();
    h.flags = r.u32();
    const std::uint32_t arch = r.u32();
    h.layout_offset = r.u64();
    h.layout_bytes = r.u64();
    h.vcpu_offset = r.u64();
    h.vcpu_bytes = r.u64();
    h.data_offset = r.u64();
    h.data_bytes = r.u64();
    h.stored_pages = r.u64();
    h.omitted_pages = r.u64();
    h.checksum = r.u32();
    const std::uint16_t name = r.u16();
    h.parent = r.string(name);
    if (h.version >= kApplicationVersion) {
        h.application_offset = r.u64();
        h.application_bytes = r.u64();
    }
    if (r.failed()) {
        why = "truncated header";
        return std::nullopt;
    }
    if (h.header_bytes != h.length()) {
        why = "header_bytes " + std::to_string(h.header_bytes) + " does not match the header's contents";
        return std::nullopt;
    }
    if (arch > 1) {
        why = "unknown architecture " + std::to_string(arch);
        return std::nullopt;
    }
    h.arch = static_cast<Arch>(arch);
    if ((h.flags & ~kFlagDiff) != 0) {
        why = "unknown flags " + std::to_string(h.flags);
        return std::nullopt;
    }
    const bool diff = (h.flags & kFlagDiff) != 0;
    if (h.id == 0 || diff != (h.parent_id != 0) || diff != !h.parent.empty()) {
        why = "inconsistent identity: a diff names its parent and a full snapshot does not";
        return std::nullopt;
    }
    if (h.parent.find('/') != std::string::npos || h.parent == "." || h.parent == "..") {
        why = "parent name '" + h.parent + "' is not a file name";
        return std::nullopt;
    }
    return h;
}

std::vector<std::byte> encode_layout(const Layout& layout) {
    Writer w;
    auto ranges = [&w](const std::vector<Range>& list) {
        w.u32(static_cast<std::uint32_t>(list.size()));
        for (const Range& r : list) {
            w.u64(r.base);
            w.u64(r.size);
        }
    };
    ranges(layout.pools);
    ranges(layout.allocated);
    w.u32(static_cast<std::uint32_t>(layout.reservations.size()));
    for (const ReservationEntry& e : layout.reservations) {
        w.u64(e.range.base);
        w.u64(e.range.size);
        w.u8(static_cast<std::uint8_t>(e.kind));
        w.u8(static_cast<std::uint8_t>((e.anonymous ? kResAnonymous : 0) | (e.mapped ? kResMapped : 0) |
                                       (e.match ? kResHasMatch : 0)));
        w.u64(e.match.value_or(0));
        w.u32(static_cast<std::uint32_t>(e.mappings.size()));
        for (const MappingEntry& m : e.mappings) {
            w.u64(m.gpa);
            w.u8(static_cast<std::uint8_t>(m.rights));
            w.u64(m.frame);
        }
    }
    w.u64(layout.frames.size());
    for (const FrameEntry& f : layout.frames) {
        w.u8(f.size_bits);
        w.u8(f.flags);
        w.u64(f.parent);
        w.u32(static_cast<std::uint32_t>(f.pages.size()));
        for (const PageEntry& p : f.pages) {
            w.u32(p.index);
            w.u8(p.flags);
            w.u32(p.crc);
            w.u64(p.offset);
        }
    }
    return std::move(w.bytes());
}

std::optional<Layout> decode_layout(std::span<const std::byte> bytes, std::string& why) {
    Reader r(bytes);
    Layout layout;
    auto ranges = [&](std::vector<Range>& out) {
        const std::uint32_t n = r.u32();
        if (!r.can_hold(n, 16)) return;
        out.reserve(n);
        for (std::uint32_t i = 0; i < n; ++i) {
            Range range{r.u64(), 0};
            range.size = r.u64();
            out.push_back(range);
        }
    };
    ranges(layout.pools);
    ranges(layout.allocated);
    const std::uint32_t reservations = r.u32();
    if (r.can_hold(reservations, 30)) {
        layout.reservations.reserve(reservations);
        for (std::uint32_t i = 0; i < reservations && !r.failed(); ++i) {
            ReservationEntry e;
            e.range.base = r.u64();
            e.range.size = r.u64();
            const std::uint8_t kind = r.u8();
            const std::uint8_t flags = r.u8();
            const std::uint64_t match = r.u64();
            if (kind > static_cast<std::uint8_t>(ReservationKind::write_posting) ||
                (flags & ~(kResAnonymous | kResMapped | kResHasMatch)) != 0) {
                why = "reservation " + std::to_string(i) + " has an unknown kind or flags";
                return std::nullopt;
            }
            e.kind = static_cast<ReservationKind>(kind);
            e.anonymous = (flags & kResAnonymous) != 0;
            e.mapped = (flags & kResMapped) != 0;
            if ((flags & kResHasMatch) != 0) e.match = match;
            const std::uint32_t mappings = r.u32();
            if (!r.can_hold(mappings, 17)) break;
            e.mappings.reserve(mappings);
            for (std::uint32_t m = 0; m < mappings; ++m) {
                MappingEntry entry;
                entry.gpa = r.u64();
                entry.rights = static_cast<Rights>(r.u8() & static_cast<std::uint8_t>(Rights::all));
                entry.frame = r.u64();
                e.mappings.push_back(entry);
            }
            layout.reservations.push_back(std::move(e));
        }
    }
    const std::uint64_t frames = r.u64();
    if (r.can_hold(frames, 14)) {
        layout.frames.reserve(frames);
        for (std::uint64_t i = 0; i < frames && !r.failed(); ++i) {
            FrameEntry f;
            f.size_bits = r.u8();
            f.flags = r.u8();
            f.parent = r.u64();
            if (!frame_size_from_bits(f.size_bits) || (f.flags & ~kFrameWhole) != 0) {
                why = "frame " + std::to_string(i) + " has an unknown size or flags";
                return std::nullopt;
            }
            const std::uint32_t pages = r.u32();
            if (!r.can_hold(pages, 17)) break;
            if (pages > (f.bytes() >> kPageBits)) {
                why = "frame " + std::to_string(i) + " stores more pages than it has";
                return std::nullopt;
            }
            f.pages.reserve(pages);
            for (std::uint32_t p = 0; p < pages; ++p) {
                PageEntry page;
                page.index = r.u32();
                page.flags = r.u8();
                page.crc = r.u32();
                page.offset = r.u64();
                f.pages.push_back(page);
            }
            layout.frames.push_back(std::move(f));
        }
    }
    if (r.failed()) {
        why = "truncated or inconsistent layout section";
        return std::nullopt;
    }
    if (r.remaining() != 0) {
        why = "layout section has " + std::to_string(r.remaining()) + " trailing bytes";
        return std::nullopt;
    }
    return layout;
}

std::vector<std::byte> encode_vcpus(const std::vector<VcpuEntry>& vcpus) {
    Writer w;
    w.u32(static_cast<std::uint32_t>(vcpus.size()));
    for (const VcpuEntry& v : vcpus) {
        w.u8(v.saved ? 1 : 0);
        if (!v.saved) continue;
        if (const auto* x = std::get_if<X86Registers>(&v.registers)) {
            w.u8(static_cast<std::uint8_t>(Arch::x86_64));
            for (std::uint64_t reg : {x->rax, x->rbx, x->rcx, x->rdx, x->rsi, x->rdi, x->rsp, x->rbp, x->r8, x->r9,
                                      x->r10, x->r11, x->r12, x->r13, x->r14, x->r15, x->rip, x->rflags}) {
                w.u64(reg);
            }
            const auto& s = std::get<X86SystemState>(v.system);
            w.u64(s.cr0);
            w.u64(s.cr3);
            w.u64(s.cr4);
            w.u64(s.efer);
            for (const X86Segment* seg : {&s.cs, &s.ds, &s.es, &s.fs, &s.gs, &s.ss, &s.tr, &s.ldt})
                put_segment(w, *seg);
            for (const X86Table* t : {&s.gdt, &s.idt}) {
                w.u64(t->base);
                w.u16(t->limit);
            }
        } else {
            const auto& a = std::get<Arm64Registers>(v.registers);
            w.u8(static_cast<std::uint8_t>(Arch::aarch64));
            for (std::uint64_t reg : a.x) w.u64(reg);
            w.u64(a.sp);
            w.u64(a.pc);
            w.u64(a.pstate);
            const auto& s = std::get<Arm64SystemState>(v.system);
            w.u64(s.sctlr_el1);
            w.u64(s.vbar_el1);
            w.u64(s.tpidr_el1);
        }
    }
    return std::move(w.bytes());
}

std::optional<std::vector<VcpuEntry>> decode_vcpus(std::span<const std::byte> bytes, std::string& why) {
    Reader r(bytes);
    std::vector<VcpuEntry> out;
    const std::uint32_t n = r.u32();
    if (r.can_hold(n, 1)) {
        for (std::uint32_t i = 0; i < n && !r.failed(); ++i) {
            VcpuEntry v;
            v.saved = r.u8() != 0;
            if (v.saved) {
                const std::uint8_t arch = r.u8();
                if (arch == static_cast<std::uint8_t>(Arch::x86_64)) {
                    X86Registers x;
                    for (std::uint64_t* reg :
                         {&x.rax, &x.rbx, &x.rcx, &x.rdx, &x.rsi, &x.rdi, &x.rsp, &x.rbp, &x.r8, &x.r9, &x.r10, &x.r11,
                          &x.r12, &x.r13, &x.r14, &x.r15, &x.rip, &x.rflags}) {
                        *reg = r.u64();
                    }
                    X86SystemState s;
                    s.cr0 = r.u64();
                    s.cr3 = r.u64();
                    s.cr4 = r.u64();
                    s.efer = r.u64();
                    for (X86Segment* seg : {&s.cs, &s.ds, &s.es, &s.fs, &s.gs, &s.ss, &s.tr, &s.ldt}) {
                        *seg = get_segment(r);
                    }
                    for (X86Table* t : {&s.gdt, &s.idt}) {
                        t->base = r.u64();
                        t->limit = r.u16();
                    }
                    v.registers = x;
                    v.system = s;
                } else if (arch == static_cast<std::uint8_t>(Arch::aarch64)) {
                    Arm64Registers a;
                    for (std::uint64_t& reg : a.x) reg = r.u64();
                    a.sp = r.u64();
                    a.pc = r.u64();
                    a.pstate = r.u64();
                    Arm64SystemState s;
                    s.sctlr_el1 = r.u64();
                    s.vbar_el1 = r.u64();
                    s.tpidr_el1 = r.u64();
                    v.registers = a;
                    v.system = s;
                } else {
                    why = "vCPU " + std::to_string(i) + " has an unknown architecture";
                    return std::nullopt;
                }
            }
            out.push_back(v);
        }
    }
    if (r.failed() || r.remaining() != 0) {
        why = "truncated or inconsistent vCPU section";
        return std::nullopt;
    }
    return out;
}

}  // namespace guestmem::snapshot::format
