// SPDX-License-Identifier: BSD-2-Clause
// The address-space fuzz harness, shared by the libFuzzer target and the
// corpus replay test.
#pragma once

#include <cstddef>
#include <cstdint>

/// Runs one input; aborts with a message when the library and the reference
/// model disagree.
void run_address_space_input(const std::uint8_t* data, std::size_t size);
