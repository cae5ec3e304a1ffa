// SPDX-License-Identifier: BSD-2-Clause
// The limit a KVM VMM can reach: a raw KVM_RUN loop written from scratch on
// the KVM ioctls (no guestmem code), running the same real-mode guests as the
// library benchmarks, with a no-op MMIO handler.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <thread>

namespace bench {

class RawKvm {
public:
    /// A VM with RAM [0, 0x80000), the flat image `image_path` at 0x10000, one vCPU.
    explicit RawKvm(const std::string& image_path);
    ~RawKvm();
    RawKvm(const RawKvm&) = delete;
    RawKvm& operator=(const RawKvm&) = delete;

    /// Real mode at 0x10000 with DI, SI, DX, CX as given.
    void reset(std::uint16_t di, std::uint16_t si, std::uint16_t dx, std::uint16_t cx);
    /// KVM_RUN until HLT; MMIO exits get a no-op handler (reads return 0).
    /// Returns the number of MMIO exits.
    std::uint64_t run();

    /// Registers an ioeventfd for writes of `len` bytes at `addr` (optionally
    /// matching `match`) and a thread that reads it; returns false if KVM refuses.
    bool add_ioeventfd(std::uint64_t addr, std::uint32_t len, std::optional<std::uint64_t> match);
    /// Rings counted by the eventfd thread so far.
    std::uint64_t rings() const;

private:
    int kvm_ = -1, vm_ = -1, vcpu_ = -1;
    void* ram_ = nullptr;
    void* run_ = nullptr;
    std::size_t run_size_ = 0;
    int event_ = -1, stop_ = -1;
    std::thread reader_;
    struct Counter;
    Counter* counter_ = nullptr;
};

}  // namespace bench
