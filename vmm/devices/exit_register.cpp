// SPDX-License-Identifier: BSD-2-Clause
#include "exit_register.hpp"

#include "guestmem/vcpu.hpp"

namespace vmm {

guestmem::FaultResult ExitRegister::on_fault(guestmem::Fault& fault) {
    if (fault.is_write()) {
        const auto status = static_cast<std::uint32_t>(fault.emulate(status_.load()));
        status_.store(status);
        written_.store(true);
        fault.vcpu().request_exit(status);
    } else {
        fault.set_data(status_.load());
    }
    return guestmem::FaultResult::handled;
}

std::optional<std::uint32_t> ExitRegister::status() const {
    if (!written_.load()) return std::nullopt;
    return status_.load();
}

}  // namespace vmm
