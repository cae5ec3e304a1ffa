// SPDX-License-Identifier: BSD-2-Clause
// The limit an emulating VMM can reach: one Unicorn engine driven directly
// (no guestmem code) running the bench guests of guests/x86_64 and
// guests/aarch64, its device page mapped with uc_mmio_map and a read callback
// that only counts. The library's emu backend runs the same guests.
#pragma once

#include <cstdint>
#include <string>

struct uc_struct;

namespace bench {

enum class GuestArch { x86_64, aarch64 };

/// "x86_64" or "aarch64".
const char* arch_name(GuestArch arch);

class RawUnicorn {
public:
    static constexpr std::uint64_t kRamSize = 0x80000;  ///< RAM at [0, kRamSize)
    static constexpr std::uint64_t kEntry = 0x10000;    ///< where the image is loaded and entered
    static constexpr std::uint64_t kStack = kRamSize;   ///< initial stack pointer
    static constexpr std::uint64_t kDevice = 0xd0000;   ///< the device page (4 KiB, outside RAM)

    /// An engine for `arch` with RAM, the flat image `image_path` at kEntry and
    /// the device page. Throws std::runtime_error if Unicorn refuses or the
    /// image cannot be read or does not fit.
    RawUnicorn(GuestArch arch, const std::string& image_path);
    ~RawUnicorn();
    RawUnicorn(const RawUnicorn&) = delete;
    RawUnicorn& operator=(const RawUnicorn&) = delete;

    /// Points the vCPU at kEntry with the first argument register = `iterations`
    /// and the second = kDevice (x86-64: long mode, rdi/rsi; AArch64: EL1h,
    /// interrupts masked, x0/x1).
    void reset(std::uint64_t iterations);
    /// Runs until the guest halts (hlt / wfi). Returns the MMIO reads the
    /// callback saw during this run. Throws std::runtime_error on an
    /// emulation error.
    std::uint64_t run();

private:
    GuestArch arch_;
    uc_struct* uc_ = nullptr;
    void* ram_ = nullptr;
    std::uint64_t reads_ = 0;
};

}  // namespace bench
