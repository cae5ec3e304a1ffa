#!/bin/sh
# SPDX-License-Identifier: BSD-2-Clause
# Runs examples/run_guest (a VMM in C) on one backend and architecture with a
# demo guest, and checks that the guest ran to its end: the guest's own
# output, and its exit status as run_guest's.
# Usage: run_guest_test.sh RUN_GUEST BACKEND ARCH IMAGE EXPECTED_OUTPUT
# Exits 77 (a skip) only for the kvm backend on a host without /dev/kvm.
set -u
run_guest=$1 backend=$2 arch=$3 image=$4 expected=$5
if [ "$backend" = kvm ] && [ ! -e /dev/kvm ]; then
    echo "skipped: no /dev/kvm on this host, so the kvm backend cannot run"
    exit 77
fi
output=$("$run_guest" --backend "$backend" --arch "$arch" "$image" 2>&1)
status=$?
printf '%s\n' "$output"
if [ "$status" -ne 0 ]; then
    echo "FAIL: run_guest exited with status $status, not 0"
    exit 1
fi
case $output in
*"$expected"*) ;;
*) echo "FAIL: the output lacks \"$expected\""; exit 1 ;;
esac
case $output in
*"the guest exited with status 0"*) ;;
*) echo "FAIL: run_guest did not report the guest's exit"; exit 1 ;;
esac
echo "ok: $backend $arch"
