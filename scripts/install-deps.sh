#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# Installs the Debian packages guestmem needs to build, test and run its demo.
# Does nothing when they are all present. Needs root (or sudo) to install.
set -euo pipefail

packages=(
  cmake make g++ gcc binutils pkg-config python3
  binutils-aarch64-linux-gnu  # the AArch64 guest images
  libgtest-dev libgmock-dev libbenchmark-dev
  libunicorn-dev              # the CPU-emulator backend (Unicorn 2)
  doxygen                     # the docs target and its warning-free test
  dpkg-dev file               # cpack -G DEB: versioned Depends (dpkg-shlibdeps) and shlibs
  clang libclang-rt-14-dev    # the libFuzzer target (scripts/fuzz.sh, CI's bounded fuzz run)
  clang-format clang-tidy     # scripts/check-style.sh (Debian 12: version 14, which .clang-format and .clang-tidy are written for)
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "install-deps: installing ${missing[*]}"
as_root=()
[ "$(id -u)" -eq 0 ] || as_root=(sudo)
export DEBIAN_FRONTEND=noninteractive
"${as_root[@]}" apt-get update -qq
"${as_root[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
