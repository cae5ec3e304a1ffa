#!/bin/sh
# SPDX-License-Identifier: BSD-2-Clause
# The ABI check: the dynamic symbols libguestmem.so defines (nm -D
# --defined-only, demangled, sorted, without addresses or types) must equal
# the committed list, so that an accidental export or a lost one fails.
#
# Usage: check_symbols.sh LIBRARY EXPECTED [--update] [--without-kvm] [--without-emu]
#   --update       rewrite EXPECTED from LIBRARY (an intended ABI change; the
#                  build target update_expected_symbols does this)
#   --without-kvm  the library has no KVM backend: EXPECTED's guestmem::kvm::
#                  lines are not expected (likewise --without-emu, guestmem::emu::)
#
# Weak instantiations of libstdc++'s templates (std::, __gnu_cxx::) are left
# out: libstdc++'s headers give them default visibility, and which ones the
# library keeps out of line depends on the compiler and the optimisation
# level, not on guestmem's interface.
set -eu
lib=$1
expected=$2
shift 2
update=no
drop='^$'
for opt in "$@"; do
    case $opt in
    --update) update=yes ;;
    --without-kvm) drop="$drop|^guestmem::kvm::" ;;
    --without-emu) drop="$drop|^guestmem::emu::" ;;
    *) echo "check_symbols.sh: unknown option $opt" >&2; exit 2 ;;
    esac
done

exported() {
    nm -D --defined-only "$lib" | awk '{ print $NF }' |
        grep -Ev '^_Z(T[ISVT]|GV)?Z?N?K?(St|9__gnu_cxx)' | c++filt | LC_ALL=C sort
}

if [ "$update" = yes ]; then
    exported >"$expected"
    echo "wrote $(wc -l <"$expected") symbols to $expected"
    exit 0
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
exported >"$tmp/actual"
grep -Ev "$drop" "$expected" >"$tmp/expected" || true
if ! diff -u "$tmp/expected" "$tmp/actual" >"$tmp/diff"; then
    echo "libguestmem.so's exported symbols differ from $expected" >&2
    echo "('+' exported but not expected, '-' expected but not exported):" >&2
    tail -n +3 "$tmp/diff" >&2
    echo "If the change is intended: cmake --build <build> --target update_expected_symbols" >&2
    exit 1
fi
echo "libguestmem.so exports the $(wc -l <"$tmp/actual") expected symbols"
