// SPDX-License-Identifier: BSD-2-Clause
#include "doorbell.hpp"

namespace vmm {

void DoorbellLine::ring(unsigned side) { rings_[side].fetch_add(1); }

guestmem::FaultResult Doorbell::on_fault(guestmem::Fault& fault) {
    if (fault.is_write()) {
        line_->ring(1 - side_);
    } else {
        fault.set_data(line_->rings(side_));
    }
    return guestmem::FaultResult::handled;
}

}  // namespace vmm
