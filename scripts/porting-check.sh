#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# Compiles libsel4vm client sources against guestmem's headers and reports,
# file by file, what compiles and, for what does not, the first error.
usage() {
  cat <<'EOF'
Usage: porting-check.sh [OPTION]... FILE_OR_DIR...

Compiles each C file (directories: every *.c below them) with
`cc -std=gnu11 -fsyntax-only` against guestmem's <sel4vm/...> headers and
guestmem's stub headers for the other seL4 libraries (sel4, vka, vspace,
simple, utils, platsupport, sel4utils, pci, ...), and prints for each file
  ok FILE
  FAIL FILE: <first error> (<where>)
then "N of M files compile" and the first errors' causes, grouped.
Exit status: 0 if every file compiles, 1 if one does not, 2 on a usage error.

Options:
  --include DIR      add DIR to the include path (before guestmem's headers;
                     repeatable): your own headers, a library's include dirs
  --define NAME[=V]  define a macro (repeatable), e.g. CONFIG_ARCH_ARM
  --prefix PREFIX    use the guestmem installed in PREFIX (PREFIX/include and
                     PREFIX/share/guestmem/porting-stubs)
  --headers DIR      use guestmem headers from DIR (holding sel4vm/); default:
                     the checkout or installation this script belongs to,
                     else `pkg-config --cflags guestmem`
  --stubs DIR        use the stub headers in DIR instead of guestmem's
  --no-stubs         no stub headers (only guestmem's and --include's)
  --cflag FLAG       pass FLAG to the compiler (repeatable)
  --all-errors       group every error of each file, not only the first
                     (each cause counts a file once)
  --json FILE        also write the results as JSON to FILE
  --verbose          print the headers and the compile command used, and the
                     compiler's whole output for failing files
  --quiet            print only failing files and the summary
  -h, --help         this text
Environment: CC (default cc).

Example: the device models of a seL4_projects_libs checkout, as an ARM
(AArch64, Exynos 5250) build of libsel4vmmplatsupport compiles them:
  L=seL4_projects_libs/libsel4vmmplatsupport
  porting-check.sh --include $L/include --include $L/arch_include/arm \
    --include $L/plat_include/exynos5 --include $L/src/arch/arm \
    --include $L/src/sel4_arch/aarch64 \
    --define CONFIG_ARCH_ARM --define CONFIG_ARCH_AARCH64 \
    --define CONFIG_PLAT_EXYNOS5 --define CONFIG_PLAT_EXYNOS5250 \
    $L/src/*.c $L/src/drivers $L/src/arch/arm $L/src/sel4_arch/aarch64 \
    $L/src/plat/exynos5
EOF
}

set -uo pipefail
export LC_ALL=C # the compiler's messages in ASCII, with 'quotes'

die() {
  echo "porting-check: $*" >&2
  exit 2
}

includes=()
defines=()
cflags=()
inputs=()
prefix=""
headers=""
stubs=""
use_stubs=1
all_errors=0
json=""
verbose=0
quiet=0
while [ $# -gt 0 ]; do
  case "$1" in
  --include | --define | --prefix | --headers | --stubs | --cflag | --json)
    [ $# -ge 2 ] || die "$1 needs an argument"
    case "$1" in
    --include) includes+=("$2") ;;
    --define) defines+=("$2") ;;
    --prefix) prefix=$2 ;;
    --headers) headers=$2 ;;
    --stubs) stubs=$2 ;;
    --cflag) cflags+=("$2") ;;
    --json) json=$2 ;;
    esac
    shift 2
    ;;
  --include=* | --define=* | --prefix=* | --headers=* | --stubs=* | --cflag=* | --json=*)
    set -- "${1%%=*}" "${1#*=}" "${@:2}"
    ;;
  --no-stubs) use_stubs=0 && shift ;;
  --all-errors) all_errors=1 && shift ;;
  --verbose) verbose=1 && shift ;;
  --quiet) quiet=1 && shift ;;
  -h | --help) usage && exit 0 ;;
  --) shift && inputs+=("$@") && break ;;
  -*) die "unknown option $1 (--help lists them)" ;;
  *) inputs+=("$1") && shift ;;
  esac
done
[ ${#inputs[@]} -gt 0 ] || {
  usage >&2
  exit 2
}

cc=${CC:-cc}
command -v "${cc%% *}" >/dev/null || die "no C compiler: $cc (set CC)"

# Where this script is: a checkout (scripts/, with include/ and
# scripts/porting-stubs beside it) or an installation
# (PREFIX/share/guestmem/, with porting-stubs beside it and PREFIX/include).
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
own_headers=""
own_stubs=""
if [ -f "$here/../include/sel4vm/guest_memory.h" ]; then
  own_headers=$(cd "$here/../include" && pwd)
elif [ -f "$here/../../include/sel4vm/guest_memory.h" ]; then
  own_headers=$(cd "$here/../../include" && pwd)
fi
[ -d "$here/porting-stubs" ] && own_stubs="$here/porting-stubs"

header_flags=()
if [ -n "$headers" ]; then
  header_flags=("-I$headers")
elif [ -n "$prefix" ]; then
  [ -d "$prefix/include/sel4vm" ] || die "no guestmem headers in $prefix/include"
  header_flags=("-I$prefix/include")
  [ -n "$stubs" ] || stubs="$prefix/share/guestmem/porting-stubs"
elif [ -n "$own_headers" ]; then
  header_flags=("-I$own_headers")
elif command -v pkg-config >/dev/null && pkg-config --exists guestmem 2>/dev/null; then
  read -r -a header_flags <<<"$(pkg-config --cflags guestmem)"
else
  die "guestmem's headers not found: give --prefix or --headers, or install guestmem where pkg-config finds it"
fi
if [ "$use_stubs" = 1 ]; then
  [ -n "$stubs" ] || stubs=$own_stubs
  if [ -z "$stubs" ] || [ ! -d "$stubs" ]; then
    die "no stub headers (${stubs:-porting-stubs not beside the script}): give --stubs DIR or --no-stubs"
  fi
fi

# The compile command: the user's include directories first, then guestmem's
# headers, then the stubs (a real seL4 library given with --include wins).
flags=(-std=gnu11 -fsyntax-only -fdiagnostics-plain-output -fno-diagnostics-color
  -Werror=implicit-function-declaration -Werror=implicit-int)
for d in "${includes[@]}"; do flags+=("-I$d"); done
flags+=("${header_flags[@]}")
[ "$use_stubs" = 1 ] && flags+=("-I$stubs")
for d in "${defines[@]}"; do flags+=("-D$d"); done
flags+=("${cflags[@]}")
# -fdiagnostics-plain-output is GCC 10's; older compilers and clang get the
# equivalent separate flags.
if ! echo 'int x;' | $cc -x c -fdiagnostics-plain-output -fsyntax-only - 2>/dev/null; then
  for i in "${!flags[@]}"; do
    [ "${flags[$i]}" = -fdiagnostics-plain-output ] && unset 'flags[i]'
  done
  flags+=(-fno-caret-diagnostics)
fi

if [ "$verbose" = 1 ]; then
  echo "porting-check: guestmem headers: ${header_flags[*]}"
  if [ "$use_stubs" = 1 ]; then echo "porting-check: stub headers: $stubs"; else echo "porting-check: no stub headers"; fi
  echo "porting-check: $cc ${flags[*]} FILE"
fi

files=()
for input in "${inputs[@]}"; do
  if [ -d "$input" ]; then
    while IFS= read -r -d '' f; do files+=("$f"); done < <(find "$input" -name '*.c' -type f -print0 | sort -z)
  elif [ -f "$input" ]; then
    files+=("$input")
  else
    die "no such file or directory: $input"
  fi
done
[ ${#files[@]} -gt 0 ] || die "no .c files in ${inputs[*]}"

# cause MESSAGE: the message reduced to what to tally: the missing header or
# name, without the parts that differ from file to file.
cause() {
  local m=$1 q="'([^']*)'"
  # GCC's and clang's wordings.
  local header=""
  if [[ $m =~ ^fatal\ error:\ ([^:]+):\ No\ such\ file ]]; then
    header=${BASH_REMATCH[1]}
  elif [[ $m =~ ^fatal\ error:\ $q\ file\ not\ found ]]; then
    header=${BASH_REMATCH[1]}
  fi
  if [ -n "$header" ]; then
    case "$header" in
    # Libraries Linux has: the header is the system's, from its package.
    libfdt.h | fdt.h) echo "missing header <$header> (install libfdt: Debian libfdt-dev)" ;;
    *) echo "missing header <$header>" ;;
    esac
  elif [[ $m =~ ^error:\ $q\ undeclared ]] || [[ $m =~ ^error:\ use\ of\ undeclared\ identifier\ $q ]]; then
    echo "undeclared '${BASH_REMATCH[1]}'"
  elif [[ $m =~ implicit\ declaration\ of\ function\ $q ]] || [[ $m =~ call\ to\ undeclared\ function\ $q ]]; then
    echo "undeclared function '${BASH_REMATCH[1]}'"
  elif [[ $m =~ ^error:\ unknown\ type\ name\ $q ]]; then
    echo "unknown type '${BASH_REMATCH[1]}'"
  elif [[ $m =~ ^error:\ $q(\ \{aka\ $q\})?\ has\ no\ member\ named\ $q ]]; then
    echo "no member '${BASH_REMATCH[4]}' in '${BASH_REMATCH[1]}'"
  elif [[ $m =~ ^error:\ no\ member\ named\ $q\ in\ $q ]]; then
    echo "no member '${BASH_REMATCH[1]}' in '${BASH_REMATCH[2]}'"
  elif [[ $m =~ invalid\ use\ of\ (undefined\ type|incomplete\ typedef)\ $q ]]; then
    echo "incomplete type '${BASH_REMATCH[2]}'"
  elif [[ $m =~ dereferencing\ pointer\ to\ incomplete\ type\ $q ]]; then
    echo "incomplete type '${BASH_REMATCH[1]}'"
  elif [[ $m =~ ^error:\ field\ $q\ has\ incomplete\ type ]] || [[ $m =~ ^error:\ storage\ size\ of\ $q\ isn.t\ known ]]; then
    echo "incomplete type of '${BASH_REMATCH[1]}'"
  elif [[ $m =~ ^error:\ \#error\ (.*)$ ]]; then
    echo "#error ${BASH_REMATCH[1]}"
  elif [[ $m =~ ^error:\ conflicting\ types\ for\ $q ]]; then
    echo "conflicting types for '${BASH_REMATCH[1]}'"
  elif [[ $m =~ ^error:\ redefinition\ of\ $q ]]; then
    echo "redefinition of '${BASH_REMATCH[1]}'"
  else
    # Keep the words and quoted names; numbers (not those inside names) become N.
    echo "${m#error: }" | sed -E -e 's/ \[-W[^]]*\]$//' -e 's/(^|[^A-Za-z0-9_])[0-9]+/\1N/g'
  fi
}

# The diagnostics of the compiler's output: "where<TAB>message" lines, errors
# only (a warning made an error counts), in order.
errors_of() {
  sed -n -E 's/^(([^:]+):([0-9]+)(:[0-9]+)?): ((fatal )?error: .*)$/\2:\3\t\5/p' "$1"
}

json_string() {
  local s=$1
  s=${s//\\/\\\\}
  s=${s//\"/\\\"}
  s=${s//$'\t'/\\t}
  s=${s//$'\n'/\\n}
  printf '"%s"' "$(printf '%s' "$s" | tr -d '\000-\010\013-\037')"
}

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
declare -A tally=()
json_items=()
ok=0
n=0
for f in "${files[@]}"; do
  n=$((n + 1))
  out="$tmp/out"
  if $cc "${flags[@]}" "$f" >"$out" 2>&1; then
    ok=$((ok + 1))
    [ "$quiet" = 1 ] || echo "ok $f"
    json_items+=("{\"file\": $(json_string "$f"), \"ok\": true}")
    continue
  fi
  first=$(errors_of "$out" | head -n 1)
  if [ -z "$first" ]; then # no error line: the compiler failed otherwise
    first=$'?\terror: '"$(head -n 1 "$out")"
  fi
  where=${first%%$'\t'*}
  message=${first#*$'\t'}
  why=$(cause "$message")
  echo "FAIL $f: $why ($where)"
  [ "$verbose" = 1 ] && sed 's/^/    /' "$out"
  if [ "$all_errors" = 1 ]; then
    causes=$(errors_of "$out" | cut -f2- | while IFS= read -r m; do cause "$m"; done | sort -u)
  else
    causes=$why
  fi
  while IFS= read -r c; do
    [ -n "$c" ] && tally[$c]=$((${tally[$c]:-0} + 1))
  done <<<"$causes"
  json_causes=()
  while IFS= read -r c; do [ -n "$c" ] && json_causes+=("$(json_string "$c")"); done <<<"$causes"
  json_items+=("{\"file\": $(json_string "$f"), \"ok\": false, \"error\": $(json_string "$message"), \"where\": $(json_string "$where"), \"cause\": $(json_string "$why"), \"causes\": [$(
    IFS=,
    echo "${json_causes[*]}"
  )]}")
done

echo "$ok of $n files compile"
if [ ${#tally[@]} -gt 0 ]; then
  if [ "$all_errors" = 1 ]; then echo "errors (files with each):"; else echo "first errors:"; fi
  for c in "${!tally[@]}"; do printf '%s\t%s\n' "${tally[$c]}" "$c"; done | sort -t$'\t' -k1,1nr -k2 |
    while IFS=$'\t' read -r count c; do
      if [ "$count" = 1 ]; then echo "  $c: 1 file"; else echo "  $c: $count files"; fi
    done
fi

if [ -n "$json" ]; then
  {
    echo "{"
    echo "  \"compiler\": $(json_string "$cc"),"
    echo "  \"flags\": [$(
      sep=""
      for x in "${flags[@]}"; do
        printf '%s%s' "$sep" "$(json_string "$x")"
        sep=", "
      done
    )],"
    echo "  \"files\": $n,"
    echo "  \"compiled\": $ok,"
    echo "  \"results\": ["
    for i in "${!json_items[@]}"; do
      if [ "$i" -lt $((${#json_items[@]} - 1)) ]; then echo "    ${json_items[$i]},"; else echo "    ${json_items[$i]}"; fi
    done
    echo "  ],"
    echo "  \"causes\": {"
    first_cause=1
    for c in "${!tally[@]}"; do printf '%s\t%s\n' "${tally[$c]}" "$c"; done | sort -t$'\t' -k1,1nr -k2 |
      while IFS=$'\t' read -r count c; do
        [ "$first_cause" = 1 ] || echo ","
        first_cause=0
        printf '    %s: %s' "$(json_string "$c")" "$count"
      done
    echo
    echo "  }"
    echo "}"
  } >"$json" || die "cannot write $json"
fi

[ "$ok" = "$n" ]
