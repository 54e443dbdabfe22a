#!/bin/sh
# SPDX-License-Identifier: BSD-2-Clause
# man_examples.sh MAN_DIR PREFIX LIBDIR CC PKG_CONFIG [RUNTIME_PATH]: every C
# example in the EXAMPLES sections of the section 2, 3 and 4 man pages is a
# complete program that builds as the pages print it,
#   cc example.c $(pkg-config --cflags --libs bsdshim)
# against the installed tree in PREFIX, and runs with the loader told where the
# library is (LD_LIBRARY_PATH, as README says for a prefix outside its path).
# Programs that open /dev/dmover run under the preload library, as dmoverio(4) says.
set -u
man_dir=$1 prefix=$2 libdir=$3 cc=$4 pkg_config=${5:-}
runtime=${6:-}
if [ -z "$pkg_config" ]; then
  echo "SKIPPED: pkg-config is not installed"
  exit 0
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export PKG_CONFIG_PATH="$prefix/$libdir/pkgconfig" PKG_CONFIG_LIBDIR="$prefix/$libdir/pkgconfig"
flags=$("$pkg_config" --cflags --libs bsdshim) || { echo "FAIL: pkg-config bsdshim"; exit 1; }
library_path="$prefix/$libdir${runtime:+:$runtime}"
failures=0
programs=0

for page in "$man_dir"/*.[234]; do
  name=$(basename "$page")
  # Literal blocks of the EXAMPLES section, one file each; mdoc escapes undone
  # (\e is a backslash, \& and \- print as nothing and a minus).
  rm -f "$work"/block.*
  awk -v out="$work/block" '
    /^\.Sh / { examples = ($2 == "EXAMPLES") }
    examples && /^\.Bd -literal/ { n++; inblock = 1; next }
    inblock && /^\.Ed/ { inblock = 0; next }
    inblock {
      line = $0
      gsub(/\\e/, "\001", line); gsub(/\\&/, "", line); gsub(/\\-/, "-", line); gsub(/\001/, "\\", line)
      print line > (out "." n)
    }' "$page"
  for block in "$work"/block.*; do
    [ -e "$block" ] || continue
    if ! head -n 1 "$block" | grep -q '^#include'; then
      # Shell lines are fine; C without its includes cannot be compiled as printed.
      if grep -q ';' "$block"; then
        echo "FAIL: $name: an example is C but not a complete program (no #include first):"
        sed 's/^/  /' "$block"
        failures=$((failures + 1))
      fi
      continue
    fi
    programs=$((programs + 1))
    src="$work/$name.${block##*.}.c"
    exe="${src%.c}"
    cp "$block" "$src"
    # shellcheck disable=SC2086 # the flags are words, as in the printed command
    if ! "$cc" -Wall -Werror "$src" -o "$exe" $flags >"$work/cc.out" 2>&1; then
      echo "FAIL: $name: example ${block##*.} does not build:"
      sed 's/^/  /' "$work/cc.out"
      failures=$((failures + 1))
      continue
    fi
    if grep -q '/dev/dmover' "$src"; then
      set -- env "LD_LIBRARY_PATH=$library_path" "LD_PRELOAD=$prefix/$libdir/libbsdshim-preload.so" "$exe"
    else
      set -- env "LD_LIBRARY_PATH=$library_path" "$exe"
    fi
    if "$@" >"$work/run.out" 2>&1; then
      echo "ok: $name example ${block##*.}: $(head -n 1 "$work/run.out")"
    else
      echo "FAIL: $name: example ${block##*.} exits with status $?:"
      sed 's/^/  /' "$work/run.out"
      failures=$((failures + 1))
    fi
  done
done

# The pages that carry C examples today: a lost example would otherwise pass unseen.
[ "$programs" -ge 4 ] || { echo "FAIL: only $programs example programs found in $man_dir"; failures=$((failures + 1)); }
echo "$programs example programs, $failures failures"
[ "$failures" -eq 0 ]
