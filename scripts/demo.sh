#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# Sets up, builds and runs the main job: the demo VMM running the "hello"
# guest, with its memory map, on KVM where /dev/kvm works and on the CPU
# emulator elsewhere. Usage: scripts/demo.sh [guestmem-vmm run options]
# (e.g. --arch aarch64, --guest pingpong).
set -euo pipefail
cd "$(dirname "$0")/.."
jobs=$(nproc 2>/dev/null || echo 2)

scripts/install-deps.sh

cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j"$jobs" --target guestmem-vmm
# --backend auto (the default): KVM where /dev/kvm works, the CPU emulator
# elsewhere; the VMM says which it chose and why.
exec ./build/vmm/guestmem-vmm run --guest hello --map "$@"
