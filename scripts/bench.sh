#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# Builds the benchmarks in Release (build-bench/), runs them with JSON output
# and prints one table: figure, baseline, ratio, target, met?
# Usage: scripts/bench.sh            (about 5-8 minutes on the 2-core CI hosts)
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
# rust-vmm's vm-memory (issue 13's baseline for read_guest_value,
# write_guest_value and find_run): a Cargo project that only drives the
# crate, built offline from Debian's packaged crates (librust-vm-memory-dev in
# /usr/share/cargo/registry), its products under $BUILD/vm_memory. Optional:
# without cargo or the package the table says why those rows are skipped.
vm_memory_baseline() {
  local src=bench/baselines/vm_memory registry=/usr/share/cargo/registry why=""
  local target
  target="$(cd "$BUILD" && pwd)/vm_memory"
  rm -f "$OUT/bench_vm_memory.json" "$OUT/bench_vm_memory.skipped"
  if ! command -v cargo >/dev/null; then
    why="cargo not found"
  elif ! compgen -G "$registry/vm-memory-0.10.*" >/dev/null; then
    why="vm-memory 0.10 not in $registry (apt-get install librust-vm-memory-dev)"
  elif ! (cd "$src" && CARGO_TARGET_DIR="$target" cargo build --release --offline --quiet) \
         >"$OUT/vm_memory_build.log" 2>&1; then
    why="cargo build failed (see $OUT/vm_memory_build.log)"
  else
    echo "running bench-vm-memory ..." >&2
    if ! "$target/release/bench-vm-memory" --out "$OUT/bench_vm_memory.json" 2>"$OUT/vm_memory_run.log"; then
      why="bench-vm-memory failed (see $OUT/vm_memory_run.log)"
    fi
  fi
  if [ -n "$why" ]; then
    echo "vm-memory baseline skipped: $why" >&2
    echo "$why" >"$OUT/bench_vm_memory.skipped"
  fi
}
# Repetitions of different benchmarks run interleaved in random order, so that
# a figure and its baseline see the same drift in the host's speed (shared
# hosts speed up and slow down by tens of percent within a run).
interleave=(--benchmark_enable_random_interleaving=true)
run bench_dispatch "${interleave[@]}" --benchmark_repetitions=3
vm_memory_baseline
run bench_memory "${interleave[@]}"
if [ -r /dev/kvm ] && [ -w /dev/kvm ]; then
  run bench_kvm "${interleave[@]}"
else
  echo "no usable /dev/kvm: KVM figures skipped" >&2
fi
run bench_dirty --benchmark_repetitions=3
# Snapshot files (about 100 MiB each) and cp's copies go to the build folder.
mkdir -p "$BUILD/snapshot-bench"
GUESTMEM_BENCH_DIR="$BUILD/snapshot-bench" run bench_snapshot
if [ -x "$BUILD/bench/bench_emu" ]; then
  run bench_emu "${interleave[@]}"
else
  echo "no bench_emu (Unicorn not found): emulator figures skipped" >&2
fi
python3 scripts/bench_table.py "$OUT"
