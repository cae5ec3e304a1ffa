#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# Builds the model-based address-space fuzzer with clang (libFuzzer, ASan,
# UBSan) and runs it. Usage: scripts/fuzz.sh [SECONDS]   (default 60; 0 runs until stopped)
# New interesting inputs go to build-fuzz/corpus (seeded from fuzz/corpus);
# a disagreement with the reference model stops the run and leaves a crash-*
# file that `build/fuzz/address_space_replay FILE` replays
# (GUESTMEM_FUZZ_TRACE=1 prints every step).
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-60}
jobs=$(nproc 2>/dev/null || echo 2)

# In CI (CI=true) every warning is an error (see scripts/test.sh).
werror=OFF
[ "${CI:-}" = true ] && werror=ON

scripts/install-deps.sh
command -v clang++ >/dev/null || { echo "fuzz: clang++ is missing (apt-get install clang)" >&2; exit 1; }

CC=clang CXX=clang++ cmake -S . -B build-fuzz -DGUESTMEM_BUILD_FUZZERS=ON -DGUESTMEM_SANITIZE=address,undefined -DGUESTMEM_WERROR=$werror \
  -DGUESTMEM_BUILD_TESTS=OFF -DGUESTMEM_BUILD_EXAMPLES=OFF -DGUESTMEM_BUILD_VMM=OFF >/dev/null
cmake --build build-fuzz -j"$jobs" --target address_space_fuzzer
mkdir -p build-fuzz/corpus
cp -n fuzz/corpus/* build-fuzz/corpus/ 2>/dev/null || true
cd build-fuzz
args=(-print_final_stats=1)
[ "$seconds" != 0 ] && args+=(-max_total_time="$seconds")
exec ./fuzz/address_space_fuzzer "${args[@]}" corpus
