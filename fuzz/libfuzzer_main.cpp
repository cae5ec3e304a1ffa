// SPDX-License-Identifier: BSD-2-Clause
// The libFuzzer entry point (build with clang and -fsanitize=fuzzer).
#include "address_space_harness.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    run_address_space_input(data, size);
    return 0;
}
