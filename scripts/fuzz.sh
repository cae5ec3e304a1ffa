#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# Builds the fuzzers with clang (libFuzzer, ASan, UBSan) and runs them one
# after the other: the model-based address-space fuzzer for two thirds of
# SECONDS, then the snapshot loader (arbitrary bytes as a snapshot file) for
# the rest. Usage: scripts/fuzz.sh [SECONDS]   (default 60; 0 runs the
# address-space fuzzer until stopped, and no snapshot fuzzing)
# New interesting inputs go to build-fuzz/corpus and build-fuzz/snapshot_corpus
# (seeded from fuzz/corpus and fuzz/snapshot_corpus); a disagreement with the
# reference model stops the run and leaves a crash-* file that
# `build/fuzz/address_space_replay FILE` replays (GUESTMEM_FUZZ_TRACE=1 prints
# every step); a snapshot input that crashes is replayed by
# `build/fuzz/snapshot_loader_replay FILE`.
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
cmake --build build-fuzz -j"$jobs" --target address_space_fuzzer snapshot_loader_fuzzer
mkdir -p build-fuzz/corpus build-fuzz/snapshot_corpus
cp -n fuzz/corpus/* build-fuzz/corpus/ 2>/dev/null || true
cp -n fuzz/snapshot_corpus/* build-fuzz/snapshot_corpus/ 2>/dev/null || true
cd build-fuzz
if [ "$seconds" = 0 ]; then
  exec ./fuzz/address_space_fuzzer -print_final_stats=1 corpus
fi
model_seconds=$((seconds * 2 / 3))
echo "fuzz: the address space, ${model_seconds} s"
./fuzz/address_space_fuzzer -print_final_stats=1 -max_total_time="$model_seconds" corpus
echo "fuzz: the snapshot loader, $((seconds - model_seconds)) s"
exec ./fuzz/snapshot_loader_fuzzer -print_final_stats=1 -max_total_time="$((seconds - model_seconds))" snapshot_corpus
