// SPDX-License-Identifier: BSD-2-Clause
// Guest images the VMM tests write themselves: an ELF64 writer for images
// that are wrong in exactly one way, and a guest that spins until stopped.
#pragma once

#include <elf.h>

#include <cstdint>
#include <cstring>
#include <fstream>
#include <string>
#include <vector>

namespace vmm_test {

/// One PT_LOAD program header, as ElfImage writes it.
struct Load {
    std::uint64_t addr = 0;  ///< p_paddr (and p_vaddr)
    std::uint64_t offset = 0;
    std::uint64_t file_size = 0;
    std::uint64_t mem_size = 0;
};

/// An x86-64 (or `machine`) ELF64 executable: the header, the program
/// headers right after it, then `payload` (whose file offset is payload_offset()).
struct ElfImage {
    std::vector<Load> loads;
    std::vector<unsigned char> payload;
    std::uint64_t entry = 0x100000;
    std::uint16_t machine = EM_X86_64;

    std::uint64_t payload_offset() const { return sizeof(Elf64_Ehdr) + loads.size() * sizeof(Elf64_Phdr); }

    std::vector<unsigned char> bytes() const {
        Elf64_Ehdr header{};
        std::memcpy(header.e_ident, ELFMAG, SELFMAG);
        header.e_ident[EI_CLASS] = ELFCLASS64;
        header.e_ident[EI_DATA] = ELFDATA2LSB;
        header.e_ident[EI_VERSION] = EV_CURRENT;
        header.e_type = ET_EXEC;
        header.e_machine = machine;
        header.e_version = EV_CURRENT;
        header.e_entry = entry;
        header.e_phoff = sizeof(Elf64_Ehdr);
        header.e_ehsize = sizeof(Elf64_Ehdr);
        header.e_phentsize = sizeof(Elf64_Phdr);
        header.e_phnum = static_cast<std::uint16_t>(loads.size());
        std::vector<unsigned char> out(sizeof header);
        std::memcpy(out.data(), &header, sizeof header);
        for (const Load& load : loads) {
            Elf64_Phdr ph{};
            ph.p_type = PT_LOAD;
            ph.p_flags = PF_R | PF_W | PF_X;
            ph.p_offset = load.offset;
            ph.p_vaddr = load.addr;
            ph.p_paddr = load.addr;
            ph.p_filesz = load.file_size;
            ph.p_memsz = load.mem_size;
            ph.p_align = 0x1000;
            const auto at = out.size();
            out.resize(at + sizeof ph);
            std::memcpy(out.data() + at, &ph, sizeof ph);
        }
        out.insert(out.end(), payload.begin(), payload.end());
        return out;
    }

    void write(const std::string& path) const {
        const auto b = bytes();
        std::ofstream(path, std::ios::binary | std::ios::trunc)
            .write(reinterpret_cast<const char*>(b.data()), static_cast<std::streamsize>(b.size()));
    }
};

/// x86-64 code that loops for ever (jmp to itself), as a flat binary: a
/// guest that runs until the VMM stops it.
inline std::string write_spinning_guest(const std::string& path) {
    const unsigned char jmp_self[] = {0xeb, 0xfe};
    std::ofstream(path, std::ios::binary | std::ios::trunc)
        .write(reinterpret_cast<const char*>(jmp_self), sizeof jmp_self);
    return path;
}

}  // namespace vmm_test
