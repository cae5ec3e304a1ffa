// SPDX-License-Identifier: BSD-2-Clause
// A Unicorn engine as an owned resource, and Unicorn's errors as guestmem's.
#pragma once

#include <unicorn/unicorn.h>

#include <memory>
#include <string>

#include "guestmem/arch.hpp"
#include "guestmem/error.hpp"

namespace guestmem::emu {

/// Closes an engine.
struct EngineCloser {
    void operator()(uc_engine* uc) const noexcept { uc_close(uc); }
};
/// An open engine; closed when the owner goes.
using Engine = std::unique_ptr<uc_engine, EngineCloser>;

/// Opens an engine for `arch` guests: x86-64 in 64-bit mode, AArch64 in A64.
/// Errc::unsupported when this Unicorn lacks the architecture.
Result<Engine> open_engine(Arch arch);

/// "what: Unicorn's message (code)".
std::string describe(const char* what, uc_err err);

/// Emulator page size: the granularity of every emulator mapping.
constexpr std::uint64_t page_size(Arch arch) { return arch == Arch::aarch64 ? 1024 : 4096; }

}  // namespace guestmem::emu
