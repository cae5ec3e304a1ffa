#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# Runs a command as on a host without /dev/kvm (most CI runners, cloud VMs
# without nested virtualisation): in a private mount namespace whose /dev is a
# tmpfs holding every original /dev entry but kvm. Needs root (unshare -m).
# Usage: scripts/without-kvm.sh COMMAND [ARGS...]
#   e.g. scripts/without-kvm.sh scripts/test.sh
set -euo pipefail
[ $# -gt 0 ] || { echo "usage: $0 COMMAND [ARGS...]" >&2; exit 2; }
if [ "${GUESTMEM_IN_NAMESPACE:-}" != 1 ]; then
  exec env GUESTMEM_IN_NAMESPACE=1 unshare -m --propagation private "$0" "$@"
fi
old=$(mktemp -d /tmp/guestmem-dev.XXXXXX)
mount --bind /dev "$old"
mount -t tmpfs -o mode=755 tmpfs /dev
for entry in "$old"/*; do
  name=$(basename "$entry")
  [ "$name" = kvm ] && continue
  if [ -L "$entry" ]; then
    cp -P "$entry" "/dev/$name"
  elif [ -d "$entry" ]; then
    mkdir "/dev/$name"
    mount --rbind "$entry" "/dev/$name"
  else
    touch "/dev/$name"
    mount --bind "$entry" "/dev/$name"
  fi
done
[ ! -e /dev/kvm ] || { echo "without-kvm: /dev/kvm is still there" >&2; exit 1; }
exec "$@"
