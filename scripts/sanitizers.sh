#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# Builds and runs the test suites under the sanitizers:
#   ASan+UBSan: every suite (except packaging and docs, which test the build, not the library)
#   TSan:       the concurrency suites (core concurrency, guest suites on KVM and the
#               emulator, the emulator's own tests, guest memory copies, saves while
#               other threads write and change the map, stress)
# Usage: scripts/sanitizers.sh [asan|tsan]...   (default: both)
set -euo pipefail
cd "$(dirname "$0")/.."
jobs=$(nproc 2>/dev/null || echo 2)
which=("$@")
[ ${#which[@]} -eq 0 ] && which=(asan tsan)
# In CI (CI=true) every warning is an error (see scripts/test.sh).
werror=OFF
[ "${CI:-}" = true ] && werror=ON

scripts/install-deps.sh

for kind in "${which[@]}"; do
  case "$kind" in
  asan)
    echo "== ASan+UBSan: building"
    cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DGUESTMEM_SANITIZE=address,undefined -DGUESTMEM_WERROR=$werror >/dev/null
    cmake --build build-asan -j"$jobs"
    echo "== ASan+UBSan: running every suite"
    ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
      ctest --test-dir build-asan --output-on-failure -j"$jobs" -LE "package|docs"
    ;;
  tsan)
    echo "== TSan: building the concurrency suites"
    cmake -S . -B build-tsan -DCMAKE_BUILD_TYPE=RelWithDebInfo -DGUESTMEM_SANITIZE=thread -DGUESTMEM_WERROR=$werror >/dev/null
    targets=(--target guestmem_tests --target guestmem_kvm_tests --target guestmem_ram_tests --target guestmem_snapshot_tests)
    [ -d tests/stress ] && targets+=(--target guestmem_stress_tests)
    [ -d src/emu ] && pkg-config --exists unicorn && targets+=(--target guestmem_emu_tests)
    cmake --build build-tsan -j"$jobs" "${targets[@]}"
    echo "== TSan: running them"
    export TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1
    ./build-tsan/tests/guestmem_tests --gtest_filter='*Concurren*:*Thread*:*Race*'
    ./build-tsan/tests/kvm/guestmem_kvm_tests
    ./build-tsan/tests/ram/guestmem_ram_tests --gtest_filter='*Race*:*Tear*:*Concurren*:*Wait*'
    ./build-tsan/tests/snapshot/guestmem_snapshot_tests --gtest_filter='*Concurren*:FailedSave*'
    [ -x build-tsan/tests/stress/guestmem_stress_tests ] && ./build-tsan/tests/stress/guestmem_stress_tests
    # ManyReservationsStayUnderTheLimit is single-threaded and takes 30 times
    # as long under TSan (about 95 s for the two architectures): the ASan and
    # plain runs cover it.
    if [ -x build-tsan/tests/emu/guestmem_emu_tests ]; then
      ./build-tsan/tests/emu/guestmem_emu_tests --gtest_filter='-*ManyReservationsStayUnderTheLimit*'
    fi
    ;;
  *) echo "sanitizers: unknown kind $kind (asan or tsan)" >&2; exit 2 ;;
  esac
done
