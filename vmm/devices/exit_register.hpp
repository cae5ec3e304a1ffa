// SPDX-License-Identifier: BSD-2-Clause
// The register a guest writes to finish with a status code.
#pragma once

#include <atomic>
#include <cstdint>
#include <optional>

#include "guestmem/fault.hpp"

namespace vmm {

/// A 4-byte register. A write records the guest's exit status and ends the
/// writing vCPU's run (Vcpu::request_exit: the run returns
/// StopReason::exited with the status once the write completes); a read
/// returns the status written so far (0 before).
///
/// Thread safety: safe from any thread.
class ExitRegister {
public:
    static constexpr std::uint64_t kSize = 4;

    guestmem::FaultResult on_fault(guestmem::Fault& fault);
    /// The status the guest wrote, if it wrote one.
    std::optional<std::uint32_t> status() const;

private:
    std::atomic<std::uint32_t> status_{0};
    std::atomic<bool> written_{false};
};

}  // namespace vmm
