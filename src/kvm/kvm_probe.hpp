// SPDX-License-Identifier: BSD-2-Clause
// Whether this host's KVM can run the backend's guests, without logging.
#pragma once

#include "guestmem/error.hpp"

namespace guestmem::kvm {

/// Opens /dev/kvm, checks its API version and the capabilities KvmSystem
/// requires, and creates (and closes) a VM. Errc::unsupported with the
/// reason ("/dev/kvm is absent", "cannot open /dev/kvm: ...", ...). Unlike
/// KvmSystem::open it logs nothing: a failed probe only steers the choice of
/// a backend. Each call probes anew (kvm::usable caches).
Result<void> probe_kvm();

}  // namespace guestmem::kvm
