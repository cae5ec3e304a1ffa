#!/usr/bin/env bash
# Builds the benchmarks in Release (build-bench/), runs them with JSON output
# and prints one table: figure, baseline, ratio, target, met?
# Usage: scripts/bench.sh            (about 3-5 minutes on the 2-core CI hosts)
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build-bench}
OUT=$BUILD/results
cmake -S . -B "$BUILD" -DCMAKE_BUILD_TYPE=Release -DGUESTMEM_BUILD_TESTS=OFF -DGUESTMEM_BUILD_EXAMPLES=OFF \
      -DGUESTMEM_BUILD_VMM=OFF -DGUESTMEM_BUILD_BENCH=ON >/dev/null
cmake --build "$BUILD" -j2 --target bench >/dev/null
mkdir -p "$OUT"
run() {  # run <executable> [args...]
  local exe=$1; shift
  echo "running $exe ..." >&2
  "$BUILD/bench/$exe" --benchmark_out="$OUT/$exe.json" --benchmark_out_format=json "$@" >/dev/null
}
# Repetitions of different benchmarks run interleaved in random order, so that
# a figure and its baseline see the same drift in the host's speed (shared
# hosts speed up and slow down by tens of percent within a run).
interleave=(--benchmark_enable_random_interleaving=true)
run bench_dispatch "${interleave[@]}" --benchmark_repetitions=3
run bench_memory "${interleave[@]}"
if [ -r /dev/kvm ] && [ -w /dev/kvm ]; then
  run bench_kvm "${interleave[@]}"
else
  echo "no usable /dev/kvm: KVM figures skipped" >&2
fi
if [ -x "$BUILD/bench/bench_emu" ]; then
  run bench_emu "${interleave[@]}"
else
  echo "no bench_emu (Unicorn not found): emulator figures skipped" >&2
fi
python3 scripts/bench_table.py "$OUT"
