// SPDX-License-Identifier: BSD-2-Clause
// Helpers of the guest RAM tests, beside the shared ones (tests/support).
#pragma once

#include <memory>

#include "guestmem/vm.hpp"
#include "test_support.hpp"

namespace ramtest {

/// A sim VM with initialised memory on its own capability space, used as a
/// pointer to the Vm (the RAM tests need no vCPU).
struct SimVm {
    std::shared_ptr<guestmem::CapabilitySpace> caps = std::make_shared<guestmem::CapabilitySpace>();
    std::unique_ptr<guestmem::Vm> vm;

    explicit SimVm(bool init = true) {
        auto created = guestmem::Vm::create(guestmem::BackendKind::sim, caps);
        if (created) vm = std::move(*created);
        if (vm && init) (void)vm->init_memory();
    }
    guestmem::Vm& operator*() const { return *vm; }
    guestmem::Vm* operator->() const { return vm.get(); }
};

}  // namespace ramtest
