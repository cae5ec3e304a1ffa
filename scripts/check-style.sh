#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# Checks the code against .clang-format and .clang-tidy.
# Usage: scripts/check-style.sh [format|tidy|all]   (default: all)
#        scripts/check-style.sh --fix               (reformats the sources in place)
#   format: fails listing the files clang-format would change
#   tidy:   clang-tidy over src/ and vmm/ (and the headers of include/, src/ and
#           vmm/ they include); fails on any finding. It configures its own
#           build directory, build-tidy, for the compile commands.
# Needs Debian's clang-format and clang-tidy (14): scripts/install-deps.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
jobs=2
what=${1:-all}

pick() { for t in "$@"; do command -v "$t" >/dev/null && { echo "$t"; return; }; done; }
clang_format=$(pick clang-format-14 clang-format)
[ -n "$clang_format" ] || { echo "check-style: clang-format is missing (apt-get install clang-format)" >&2; exit 1; }

# The project's own C and C++ sources: tracked files only, so neither build
# directories nor the fuzz corpus (binary inputs) are ever touched.
sources() {
  git ls-files -z -- src include vmm tests bench fuzz examples guests |
    grep -z -E '\.(c|h|cc|cpp|hpp)$' | grep -z -v '^fuzz/corpus/'
}

check_format() {
  echo "check-style: clang-format ($($clang_format --version | grep -o 'version [0-9.]*'))"
  local bad=()
  while IFS= read -r -d '' f; do
    "$clang_format" --dry-run -Werror "$f" >/dev/null 2>&1 || bad+=("$f")
  done < <(sources)
  if [ ${#bad[@]} -ne 0 ]; then
    printf '  %s\n' "${bad[@]}"
    echo "check-style: ${#bad[@]} files are not formatted as .clang-format says (scripts/check-style.sh --fix formats them)"
    return 1
  fi
  echo "check-style: every file is formatted"
}

check_tidy() {
  local run_tidy
  run_tidy=$(pick run-clang-tidy-14 run-clang-tidy)
  [ -n "$run_tidy" ] || { echo "check-style: run-clang-tidy is missing (apt-get install clang-tidy)" >&2; exit 1; }
  local tidy
  tidy=$(pick clang-tidy-14 clang-tidy)
  echo "check-style: clang-tidy ($($tidy --version | grep -o 'version [0-9.]*'))"
  # The default configuration has every part this host can build (KVM, the
  # emulator), so every source under src/ and vmm/ has a compile command.
  # Nothing is built: no file under src/ or vmm/ includes a generated header.
  cmake -S . -B build-tidy -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_EXPORT_COMPILE_COMMANDS=ON >/dev/null
  # run-clang-tidy prints each file's command and findings; a finding is an
  # error (WarningsAsErrors in .clang-tidy), so its status is the verdict.
  local log=build-tidy/clang-tidy.log
  # The header filter names this checkout's directories: the .clang-tidy one
  # cannot know where the checkout is, and a bare /include/ also matches /usr/include.
  local root
  root=$(printf '%s' "$PWD" | sed 's/[][\.*^$+?(){}|]/\\&/g')
  # The compile commands are g++'s: its -Wconversion is, to clang, also
  # -Wsign-conversion, which the code is not held to (CMakeLists.txt).
  if "$run_tidy" -clang-tidy-binary "$tidy" -p build-tidy -j "$jobs" -quiet -extra-arg=-Wno-sign-conversion \
    -header-filter="^$root/(include|src|vmm)/" "^$root/(src|vmm)/" >"$log" 2>&1; then
    echo "check-style: no clang-tidy findings"
  else
    # run-clang-tidy-14 always asks for colour; a header's finding comes once per file including it.
    sed 's/\x1b\[[0-9;]*m//g' "$log" | grep -E '(warning|error):' | sort -u || true
    echo "check-style: clang-tidy found the above (full output: $log)"
    return 1
  fi
}

case "$what" in
--fix)
  sources | xargs -0 "$clang_format" -i
  echo "check-style: formatted $(sources | tr -cd '\0' | wc -c) files"
  ;;
format) check_format ;;
tidy) check_tidy ;;
all)
  status=0
  check_format || status=1
  check_tidy || status=1
  exit $status
  ;;
*) echo "usage: scripts/check-style.sh [format|tidy|all|--fix]" >&2; exit 2 ;;
esac
