#!/usr/bin/env bash
# Sets up, builds and runs the main job: the demo VMM running the "hello"
# guest on KVM, with its memory map. Usage: scripts/demo.sh [guestmem-vmm run options]
# Without /dev/kvm it replays the same guest accesses on the sim backend.
set -euo pipefail
cd "$(dirname "$0")/.."
jobs=$(nproc 2>/dev/null || echo 2)

scripts/install-deps.sh

cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j"$jobs" --target guestmem-vmm
if [ -e /dev/kvm ]; then
  exec ./build/vmm/guestmem-vmm run --guest hello --map "$@"
fi
echo "demo: /dev/kvm is absent; replaying hello's accesses on the sim backend instead" >&2
exec ./build/vmm/guestmem-vmm run --backend sim --script vmm/scripts/hello.txt --map "$@"
