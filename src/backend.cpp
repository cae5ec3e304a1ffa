// SPDX-License-Identifier: BSD-2-Clause
// The key functions of the backend interfaces (guestmem/backend.hpp): defined
// here, out of line, so that their vtables and type information live in the
// library, exported once, whatever the optimisation level. Inline destructors
// would leave the vtables to whichever object needed them, so that
// libguestmem.so's exported symbols changed between debug and release builds.
#include "guestmem/backend.hpp"

namespace guestmem {

VcpuBackend::~VcpuBackend() = default;
FastPath::~FastPath() = default;
Backend::~Backend() = default;

}  // namespace guestmem
