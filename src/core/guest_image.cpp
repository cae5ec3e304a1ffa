// SPDX-License-Identifier: BSD-2-Clause
#include "guestmem/guest_image.hpp"

#include <elf.h>

#include <algorithm>
#include <cinttypes>
#include <cstdio>
#include <cstring>
#include <limits>

#include "guestmem/guest_memory.hpp"

namespace guestmem {

namespace {

/// The reason an image is refused. Not fail: that one logs the
/// message; the caller reports it (the C API logs it, the VMM prints it), once.
Error refuse(std::string message) { return Error{Errc::invalid_argument, std::move(message)}; }

std::string hex(std::uint64_t value) {
    char text[24];
    std::snprintf(text, sizeof text, "0x%" PRIx64, value);
    return text;
}

/// [addr, addr + size) as text; the range does not wrap, but may end at 2^64.
std::string range(std::uint64_t addr, std::uint64_t size) {
    const std::uint64_t end = addr + size;
    return "[" + hex(addr) + ", " + (end == 0 && size != 0 ? std::string("0x10000000000000000") : hex(end)) + ")";
}

std::string ram_text(RamWindow ram) { return "RAM " + range(ram.base, ram.size); }

Error does_not_fit(const std::string& what, std::uint64_t addr, std::uint64_t size, RamWindow ram) {
    return refuse(what + " " + range(addr, size) + " does not fit in " + ram_text(ram) + " (use a larger --ram)");
}

bool fits(std::uint64_t addr, std::uint64_t size, RamWindow ram) {
    return addr >= ram.base && addr - ram.base <= ram.size && size <= ram.size - (addr - ram.base);
}

Result<GuestImage> parse_elf(std::vector<std::byte> file, const std::string& path, Arch arch, RamWindow ram) {
    Elf64_Ehdr header;
    if (file.size() < sizeof header) return refuse(path + ": truncated ELF header");
    std::memcpy(&header, file.data(), sizeof header);
    const Elf64_Half machine = arch == Arch::aarch64 ? EM_AARCH64 : EM_X86_64;
    if (header.e_ident[EI_CLASS] != ELFCLASS64 || header.e_machine != machine) {
        return refuse(path + ": not an ELF64 file for " + std::string(to_string(arch)) + " (see --arch)");
    }
    // Both architectures' guests are little-endian: a big-endian file's
    // numbers would be read byte-swapped.
    if (header.e_ident[EI_DATA] != ELFDATA2LSB) return refuse(path + ": not a little-endian ELF file");
    if (header.e_phentsize != sizeof(Elf64_Phdr) || header.e_phoff > file.size() ||
        header.e_phnum > (file.size() - header.e_phoff) / sizeof(Elf64_Phdr)) {
        return refuse(path + ": program headers lie outside the file");
    }
    GuestImage image;
    image.elf = true;
    image.entry = header.e_entry;
    std::vector<unsigned> index_of;  // each segment's program header, for messages
    for (unsigned i = 0; i < header.e_phnum; ++i) {
        Elf64_Phdr ph;
        std::memcpy(&ph, file.data() + header.e_phoff + std::size_t{i} * sizeof ph, sizeof ph);
        if (ph.p_type != PT_LOAD) continue;
        const std::string name = path + ": segment " + std::to_string(i);
        if (ph.p_filesz > ph.p_memsz) {
            return refuse(name + " has more bytes in the file (" + hex(ph.p_filesz) + ") than in memory (" +
                          hex(ph.p_memsz) + ")");
        }
        if (ph.p_offset > file.size() || ph.p_filesz > file.size() - ph.p_offset) {
            return refuse(name + " takes " + hex(ph.p_filesz) + " bytes from file offset " + hex(ph.p_offset) +
                          ", beyond the end of the file (" + std::to_string(file.size()) + " bytes)");
        }
        if (ph.p_memsz == 0) continue;
        if (ph.p_memsz - 1 > std::numeric_limits<std::uint64_t>::max() - ph.p_paddr) {
            return refuse(name + " at " + hex(ph.p_paddr) + " with " + hex(ph.p_memsz) +
                          " bytes wraps around the end of the address space");
        }
        if (!fits(ph.p_paddr, ph.p_memsz, ram)) return does_not_fit(name, ph.p_paddr, ph.p_memsz, ram);
        image.segments.push_back(ImageSegment{ph.p_paddr, ph.p_offset, ph.p_filesz, ph.p_memsz});
        index_of.push_back(i);
    }
    if (image.segments.empty()) return refuse(path + ": no loadable segment");
    // One segment's bytes would silently overwrite another's.
    std::vector<std::size_t> order(image.segments.size());
    for (std::size_t k = 0; k < order.size(); ++k) order[k] = k;
    std::stable_sort(order.begin(), order.end(),
                     [&](std::size_t a, std::size_t b) { return image.segments[a].addr < image.segments[b].addr; });
    for (std::size_t k = 1; k < order.size(); ++k) {
        const ImageSegment& before = image.segments[order[k - 1]];
        const ImageSegment& after = image.segments[order[k]];
        if (after.addr - before.addr < before.mem_size) {
            return refuse(path + ": segments " + std::to_string(index_of[order[k - 1]]) + " " +
                          range(before.addr, before.mem_size) + " and " + std::to_string(index_of[order[k]]) + " " +
                          range(after.addr, after.mem_size) + " overlap");
        }
    }
    image.file = std::move(file);
    return image;
}

}  // namespace

Result<GuestImage> read_guest_image(const std::string& path, GuestAddr flat_load_addr, Arch arch, RamWindow ram) {
    ApiCall call("read_guest_image");
    auto read = read_image_file(path, kMaxImageBytes);
    if (!read) return read.error();
    std::vector<std::byte> file = std::move(*read);
    if (file.empty()) return refuse("guest image " + path + " is empty");
    if (file.size() >= SELFMAG && std::memcmp(file.data(), ELFMAG, SELFMAG) == 0) {
        return parse_elf(std::move(file), path, arch, ram);
    }
    if (!fits(flat_load_addr, file.size(), ram)) {
        return does_not_fit(path + ": the flat binary at", flat_load_addr, file.size(), ram);
    }
    GuestImage image;
    image.entry = flat_load_addr;
    image.segments.push_back(ImageSegment{flat_load_addr, 0, file.size(), file.size()});
    image.file = std::move(file);
    return image;
}

Result<void> load_guest_image(Vm& vm, const GuestImage& image) {
    ApiCall call("load_guest_image");
    for (const auto& segment : image.segments) {
        if (auto ok = write_guest(vm, segment.addr, image.bytes(segment), WriteRights::vmm); !ok) return ok.error();
        if (segment.mem_size == segment.file_size) continue;
        if (auto ok = fill_guest(vm, segment.addr + segment.file_size, segment.mem_size - segment.file_size,
                                 std::byte{0}, WriteRights::vmm);
            !ok)
            return ok.error();
    }
    return {};
}

}  // namespace guestmem
