// SPDX-License-Identifier: BSD-2-Clause
#include "image_loader.hpp"

#include "guestmem/guest_memory.hpp"

#include <elf.h>

#include <cstring>
#include <fstream>
#include <iterator>

namespace vmm {

using guestmem::Errc;
using guestmem::fail;

namespace {

constexpr std::uint64_t kMaxImage = std::uint64_t{1} << 30;

guestmem::Result<GuestImage> parse_elf(const std::vector<std::byte>& file, const std::string& path,
                                       guestmem::Arch arch) {
    Elf64_Ehdr header;
    if (file.size() < sizeof header) return fail(Errc::invalid_argument, path + ": truncated ELF header");
    std::memcpy(&header, file.data(), sizeof header);
    const Elf64_Half machine = arch == guestmem::Arch::aarch64 ? EM_AARCH64 : EM_X86_64;
    if (header.e_ident[EI_CLASS] != ELFCLASS64 || header.e_machine != machine) {
        return fail(Errc::invalid_argument,
                    path + ": not an ELF64 file for " + std::string(guestmem::to_string(arch)) + " (see --arch)");
    }
    if (header.e_phentsize != sizeof(Elf64_Phdr) || header.e_phoff > file.size() ||
        header.e_phnum > (file.size() - header.e_phoff) / sizeof(Elf64_Phdr)) {
        return fail(Errc::invalid_argument, path + ": program headers lie outside the file");
    }
    GuestImage image;
    image.elf = true;
    image.entry = header.e_entry;
    for (unsigned i = 0; i < header.e_phnum; ++i) {
        Elf64_Phdr ph;
        std::memcpy(&ph, file.data() + header.e_phoff + i * sizeof ph, sizeof ph);
        if (ph.p_type != PT_LOAD || ph.p_memsz == 0) continue;
        if (ph.p_filesz > ph.p_memsz || ph.p_memsz > kMaxImage || ph.p_offset > file.size() ||
            ph.p_filesz > file.size() - ph.p_offset) {
            return fail(Errc::invalid_argument, path + ": segment " + std::to_string(i) + " is malformed");
        }
        ImageSegment segment;
        segment.addr = ph.p_paddr;
        segment.bytes.assign(ph.p_memsz, std::byte{0});
        std::memcpy(segment.bytes.data(), file.data() + ph.p_offset, ph.p_filesz);
        image.segments.push_back(std::move(segment));
    }
    if (image.segments.empty()) return fail(Errc::invalid_argument, path + ": no loadable segment");
    return image;
}

}  // namespace

guestmem::Result<GuestImage> read_guest_image(const std::string& path, guestmem::GuestAddr flat_load_addr,
                                              guestmem::Arch arch) {
    auto read = guestmem::read_image_file(path, kMaxImage);
    if (!read) return read.error();
    std::vector<std::byte> file = std::move(*read);
    if (file.empty()) return fail(Errc::invalid_argument, "guest image " + path + " is empty");
    if (file.size() >= 4 && std::memcmp(file.data(), ELFMAG, SELFMAG) == 0) return parse_elf(file, path, arch);
    GuestImage image;
    image.entry = flat_load_addr;
    image.segments.push_back(ImageSegment{flat_load_addr, std::move(file)});
    return image;
}

}  // namespace vmm
