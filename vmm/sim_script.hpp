// SPDX-License-Identifier: BSD-2-Clause
// Replays a text script of guest accesses against a machine on the sim backend.
#pragma once

#include <istream>
#include <ostream>
#include <string>

#include "machine.hpp"

namespace vmm {

/// How a script run went.
struct ScriptResult {
    std::uint64_t accesses = 0;
    std::uint64_t failed = 0;      ///< accesses that ended in an error
    std::uint64_t mismatches = 0;  ///< reads whose value differed from "expect"
    std::uint64_t syntax_errors = 0;
    bool ok() const { return failed == 0 && mismatches == 0 && syntax_errors == 0; }
};

/// Script lines (blank lines and text after '#' are ignored):
///   write ADDR SIZE VALUE          (or: w ...)
///   read  ADDR SIZE [expect VALUE] (or: r ...)
/// ADDR and VALUE in C notation (0x.. hex, or decimal); SIZE is 1, 2, 4 or 8.
/// Each access is performed on `vcpu` and its outcome printed to `out`.
ScriptResult run_script(std::istream& script, guestmem::Vcpu& vcpu, std::ostream& out);

}  // namespace vmm
