// SPDX-License-Identifier: BSD-2-Clause
#include "raw_unicorn.hpp"

#include <sys/mman.h>
#include <unicorn/unicorn.h>

#include <cstring>
#include <fstream>
#include <iterator>
#include <stdexcept>
#include <vector>

namespace bench {

namespace {

void check(uc_err err, const char* what) {
    if (err != UC_ERR_OK) throw std::runtime_error(std::string(what) + ": " + uc_strerror(err));
}

// The no-op device: every read returns 0. Counting is the only work, so that
// the benchmark can check one callback per guest read.
std::uint64_t device_read(uc_engine*, std::uint64_t, unsigned, void* reads) {
    ++*static_cast<std::uint64_t*>(reads);
    return 0;
}

void device_write(uc_engine*, std::uint64_t, unsigned, std::uint64_t, void*) {}

// EL1h (SP_EL1) with D, A, I and F masked: the boot state guestmem gives AArch64 guests.
constexpr std::uint64_t kEl1hMasked = 0x3c5;

}  // namespace

const char* arch_name(GuestArch arch) { return arch == GuestArch::x86_64 ? "x86_64" : "aarch64"; }

RawUnicorn::RawUnicorn(GuestArch arch, const std::string& image_path) : arch_(arch) {
    std::ifstream in(image_path, std::ios::binary);
    std::vector<char> image((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (image.empty()) throw std::runtime_error("cannot read " + image_path);
    if (image.size() > kRamSize - kEntry) throw std::runtime_error(image_path + " does not fit in RAM");
    // mmap, not a vector: uc_mem_map_ptr wants page-aligned host memory.
    ram_ = ::mmap(nullptr, kRamSize, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (ram_ == MAP_FAILED) {
        ram_ = nullptr;
        throw std::runtime_error("mmap RAM");
    }
    std::memcpy(static_cast<char*>(ram_) + kEntry, image.data(), image.size());
    try {
        if (arch == GuestArch::x86_64) {
            check(uc_open(UC_ARCH_X86, UC_MODE_64, &uc_), "uc_open x86-64");
        } else {
            check(uc_open(UC_ARCH_ARM64, UC_MODE_ARM, &uc_), "uc_open arm64");
        }
        check(uc_mem_map_ptr(uc_, 0, kRamSize, UC_PROT_ALL, ram_), "uc_mem_map_ptr RAM");
        check(uc_mmio_map(uc_, kDevice, 0x1000, device_read, &reads_, device_write, nullptr), "uc_mmio_map");
    } catch (...) {
        if (uc_) uc_close(uc_);
        ::munmap(ram_, kRamSize);
        throw;
    }
}

RawUnicorn::~RawUnicorn() {
    uc_close(uc_);
    ::munmap(ram_, kRamSize);
}

void RawUnicorn::reset(std::uint64_t iterations) {
    const std::uint64_t device = kDevice;
    const std::uint64_t stack = kStack;
    if (arch_ == GuestArch::x86_64) {
        check(uc_reg_write(uc_, UC_X86_REG_RSP, &stack), "RSP");
        check(uc_reg_write(uc_, UC_X86_REG_RDI, &iterations), "RDI");
        check(uc_reg_write(uc_, UC_X86_REG_RSI, &device), "RSI");
        check(uc_reg_write(uc_, UC_X86_REG_RIP, &kEntry), "RIP");
    } else {
        check(uc_reg_write(uc_, UC_ARM64_REG_PSTATE, &kEl1hMasked), "PSTATE");
        check(uc_reg_write(uc_, UC_ARM64_REG_SP, &stack), "SP");
        check(uc_reg_write(uc_, UC_ARM64_REG_X0, &iterations), "X0");
        check(uc_reg_write(uc_, UC_ARM64_REG_X1, &device), "X1");
        check(uc_reg_write(uc_, UC_ARM64_REG_PC, &kEntry), "PC");
    }
}

std::uint64_t RawUnicorn::run() {
    const std::uint64_t before = reads_;
    std::uint64_t pc = 0;
    const int pc_reg = arch_ == GuestArch::x86_64 ? int{UC_X86_REG_RIP} : int{UC_ARM64_REG_PC};
    check(uc_reg_read(uc_, pc_reg, &pc), "read PC");
    // No end address and no timeout: hlt and wfi end the run.
    check(uc_emu_start(uc_, pc, 0, 0, 0), "uc_emu_start");
    return reads_ - before;
}

}  // namespace bench
