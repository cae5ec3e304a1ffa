#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# Sets up, builds and runs every test suite. Usage: scripts/test.sh
set -euo pipefail
cd "$(dirname "$0")/.."
jobs=$(nproc 2>/dev/null || echo 2)

# In CI (CI=true) every warning is an error; elsewhere a compiler newer than
# the one CI uses may warn about something new, and that must not stop a build.
werror=OFF
[ "${CI:-}" = true ] && werror=ON

scripts/install-deps.sh

cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo -DGUESTMEM_WERROR=$werror >/dev/null
cmake --build build -j"$jobs"
ctest --test-dir build --output-on-failure -j"$jobs"
