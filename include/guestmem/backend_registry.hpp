// SPDX-License-Identifier: BSD-2-Clause
/// @file
/// Choosing a backend by name: "sim", "kvm", "emu" or "auto".
#pragma once

#include <guestmem/export.h>

#include <string>
#include <string_view>
#include <optional>
#include <vector>

#include "guestmem/arch.hpp"
#include "guestmem/error.hpp"
#include "guestmem/types.hpp"

namespace guestmem {

/// "sim", "kvm", "emu" or "auto".
GUESTMEM_API std::string_view to_string(BackendKind kind);
/// The backend named `name` ("sim", "kvm", "emu", "auto"), if there is one.
GUESTMEM_API std::optional<BackendKind> backend_from_string(std::string_view name);

/// A backend picked for a VM, and why.
struct BackendChoice {
    BackendKind kind = BackendKind::sim;  ///< never BackendKind::automatic
    std::string why;                      ///< for people, e.g. "kvm: /dev/kvm is absent; using emu"
};

/// Resolves `requested` for guests of `arch` on this host. BackendKind::automatic
/// becomes kvm when /dev/kvm opens and runs `arch`, else emu; any other kind is
/// checked as it is. Errc::unsupported (the message says why) when the
/// backend is not built in or cannot run `arch` here.
GUESTMEM_API Result<BackendChoice> choose_backend(BackendKind requested, Arch arch);

/// The backends built into this library, whether they can run `arch` on this
/// host, and why not: one line each, for --help and diagnostics.
GUESTMEM_API std::vector<std::string> describe_backends(Arch arch);

}  // namespace guestmem
