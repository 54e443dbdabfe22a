#!/bin/sh
# SPDX-License-Identifier: BSD-2-Clause
# tool_test.sh BSDSHIM TOOL_REF: runs the bsdshim tool on real files and checks
# its output and exit statuses (the ones `bsdshim --help` documents) against
# tool_ref, an independent C implementation of CRC32C and XOR.
set -u
tool=$1
ref=$2
seed=${TOOL_TEST_SEED:-$(od -An -N4 -tu4 /dev/urandom | tr -d ' ')}
echo "seed: $seed (rerun with TOOL_TEST_SEED=$seed)"
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
failures=0
checks=0

fail() { echo "FAIL: $*"; failures=$((failures + 1)); }
ok() { checks=$((checks + 1)); }

# expect STATUS DESCRIPTION CMD...: runs CMD (stdout in $dir/out, stderr in $dir/err).
expect() {
  expected=$1; what=$2; shift 2
  "$@" >"$dir/out" 2>"$dir/err"
  got=$?
  if [ "$got" -ne "$expected" ]; then
    fail "$what: status $got, expected $expected"
    sed 's/^/  stdout: /' "$dir/out"; sed 's/^/  stderr: /' "$dir/err"
  else
    ok
  fi
}

# same FILE1 FILE2 DESCRIPTION
same() { if cmp -s "$1" "$2"; then ok; else fail "$3: $1 and $2 differ"; fi; }

# --- help documents the exit statuses ---
expect 0 "--help" "$tool" --help
grep -q "Exit status" "$dir/out" && ok || fail "--help lists no exit statuses"
expect 2 "unknown subcommand is a usage error" "$tool" frobnicate

# --- crc32c ---
printf 123456789 >"$dir/check"
expect 0 "crc32c of the check string" "$tool" crc32c "$dir/check"
[ "$(cat "$dir/out")" = "e3069283  $dir/check" ] && ok || fail "crc32c check value: $(cat "$dir/out")"
expect 0 "crc32c --json" "$tool" crc32c --json "$dir/check"
[ "$(cat "$dir/out")" = "{\"file\":\"$dir/check\",\"crc32c\":\"e3069283\",\"bytes\":9}" ] && ok \
  || fail "crc32c --json: $(cat "$dir/out")"
expect 0 "crc32c of standard input" sh -c "\"$tool\" crc32c - <\"$dir/check\""
[ "$(cat "$dir/out")" = "e3069283  -" ] && ok || fail "crc32c of stdin: $(cat "$dir/out")"
: >"$dir/empty"
expect 0 "crc32c of an empty file" "$tool" crc32c "$dir/empty"
[ "$(cat "$dir/out")" = "00000000  $dir/empty" ] && ok || fail "crc32c of empty: $(cat "$dir/out")"

# Many chunks and an odd length: the CRC is chained across requests.
big_size=$((20 * 1024 * 1024 + 4093))
"$ref" gen "$seed" "$big_size" "$dir/big"
want=$("$ref" crc "$dir/big")
expect 0 "crc32c of a 20 MiB file" "$tool" crc32c --no-progress "$dir/big" "$dir/check"
[ "$(sed -n 1p "$dir/out")" = "$want  $dir/big" ] && ok || fail "crc32c of big file: $(sed -n 1p "$dir/out"), reference $want"
[ "$(sed -n 2p "$dir/out")" = "e3069283  $dir/check" ] && ok || fail "second file after a big one"

# Errors: the others are still summed, the status is the first failure's.
expect 3 "crc32c of a missing file" "$tool" crc32c "$dir/nonexistent" "$dir/check"
grep -q "nonexistent" "$dir/err" && ok || fail "missing file not named on stderr"
[ "$(cat "$dir/out")" = "e3069283  $dir/check" ] && ok || fail "file after a missing one not summed"
expect 6 "crc32c of a directory" "$tool" crc32c "$dir"
# Root reads anything: as root the check runs as nobody (on a copy of the tool
# that nobody can reach), or is skipped where setpriv is missing.
printf x >"$dir/secret"; chmod 000 "$dir/secret"
if [ "$(id -u)" -ne 0 ]; then
  expect 4 "crc32c of an unreadable file" "$tool" crc32c "$dir/secret"
elif command -v setpriv >/dev/null; then
  chmod 755 "$dir"; mkdir "$dir/bin"; cp "$tool" "$dir/bin/bsdshim"
  expect 4 "crc32c of an unreadable file (as nobody)" \
    setpriv --reuid=65534 --regid=65534 --clear-groups "$dir/bin/bsdshim" crc32c "$dir/secret"
  grep -q "Permission denied" "$dir/err" && ok || fail "permission message: $(cat "$dir/err")"
else
  echo "(root without setpriv: the permission check is skipped)"
fi

# --- parity ---
size=$((9 * 1024 * 1024 + 333))
for i in 1 2 3; do "$ref" gen $((seed + i)) "$size" "$dir/m$i"; done
m="$dir/m1 $dir/m2 $dir/m3"
expect 0 "parity create" "$tool" parity create -p "$dir/p" $m
"$ref" xor "$dir/p.ref" $m
same "$dir/p" "$dir/p.ref" "parity file against the reference XOR"
ls "$dir" | grep -q bsdshim- && fail "a temporary file was left behind" || ok
expect 0 "parity verify of a good set" "$tool" parity verify -p "$dir/p" $m
grep -q ": ok" "$dir/out" && ok || fail "verify printed: $(cat "$dir/out")"
expect 0 "parity verify --json" "$tool" parity verify --json -p "$dir/p" $m
grep -q '"ok":true' "$dir/out" && ok || fail "verify --json printed: $(cat "$dir/out")"

cp "$dir/m2" "$dir/m2.orig"
printf 'Z' | dd of="$dir/m2" bs=1 seek=5000000 conv=notrunc 2>/dev/null
expect 1 "parity verify after corrupting a member" "$tool" parity verify -p "$dir/p" $m
grep -q "MISMATCH" "$dir/out" && grep -q "offset 5000000" "$dir/out" && ok || fail "verify mismatch report: $(cat "$dir/out")"
expect 0 "parity rebuild --member of a corrupt member" "$tool" parity rebuild -p "$dir/p" --member "$dir/m2" $m
same "$dir/m2" "$dir/m2.orig" "member rebuilt over a corrupt copy"

rm "$dir/m2"
expect 3 "parity verify with a member missing" "$tool" parity verify -p "$dir/p" $m
expect 0 "parity rebuild of a deleted member" "$tool" parity rebuild -p "$dir/p" $m
same "$dir/m2" "$dir/m2.orig" "deleted member rebuilt"
expect 0 "parity verify after rebuild" "$tool" parity verify -p "$dir/p" $m

rm "$dir/m1" "$dir/m2"
expect 3 "parity rebuild with two members missing" "$tool" parity rebuild -p "$dir/p" $m
"$ref" gen 1 100 "$dir/s1"; "$ref" gen 2 101 "$dir/s2"
expect 5 "parity create with mismatched sizes" "$tool" parity create -p "$dir/sp" "$dir/s1" "$dir/s2"
grep -q "equal sizes" "$dir/err" && ok || fail "size error message: $(cat "$dir/err")"
[ -e "$dir/sp" ] && fail "a failed create left a parity file" || ok
expect 2 "parity with one member" "$tool" parity create -p "$dir/sp" "$dir/s1"

# --- watch ---
# Appends until the watcher reports (it may not have registered yet), never
# longer than the watcher's own --timeout.
printf start >"$dir/watched"
"$tool" watch --count 1 --timeout 30 "$dir/watched" >"$dir/watch.out" 2>"$dir/watch.err" &
pid=$!
i=0
while [ ! -s "$dir/watch.out" ] && [ $i -lt 150 ]; do
  printf more >>"$dir/watched"; sleep 0.2; i=$((i + 1))
done
wait $pid
status=$?
[ $status -eq 0 ] && ok || fail "watch exited with $status: $(cat "$dir/watch.err")"
grep -q " write.* $dir/watched\$" "$dir/watch.out" && ok || fail "watch printed: $(cat "$dir/watch.out")"

: >"$dir/watch.out"   # before the watcher starts: the loop below must not see the last run's line
"$tool" watch --json --count 1 --timeout 30 "$dir/watched" >"$dir/watch.out" 2>"$dir/watch.err" &
pid=$!
i=0
while [ ! -s "$dir/watch.out" ] && [ $i -lt 150 ]; do
  printf more >>"$dir/watched"; sleep 0.2; i=$((i + 1))
done
wait $pid
grep -q "\"path\":\"$dir/watched\",\"events\":\[\"write\"" "$dir/watch.out" && ok || fail "watch --json printed: $(cat "$dir/watch.out")"

# A directory reports write when an entry is added.
mkdir "$dir/wdir"
: >"$dir/watch.out"
"$tool" watch --count 1 --timeout 30 "$dir/wdir" >"$dir/watch.out" 2>"$dir/watch.err" &
pid=$!
i=0
while [ ! -s "$dir/watch.out" ] && [ $i -lt 150 ]; do
  : >"$dir/wdir/entry$i"; sleep 0.2; i=$((i + 1))
done
wait $pid
grep -q " write $dir/wdir\$" "$dir/watch.out" && ok || fail "watch of a directory printed: $(cat "$dir/watch.out")"

expect 0 "watch --timeout with no events" "$tool" watch --timeout 0.2 "$dir/check"
expect 3 "watch of a missing path" "$tool" watch --timeout 1 "$dir/nonexistent"

# --- bench: the real benchmarks are too long for a test; stand-ins beside a
# copy of the tool check the lookup, the arguments passed and the statuses ---
expect 2 "bench with an unknown benchmark" "$tool" bench nonsense
mkdir -p "$dir/bin"
cp "$tool" "$dir/bin/bsdshim"
printf '#!/bin/sh\necho "kqueue-bench ran with: $*"\n' >"$dir/bin/kqueue-bench"
printf '#!/bin/sh\nexit 3\n' >"$dir/bin/dmover-bench"
chmod +x "$dir/bin/kqueue-bench" "$dir/bin/dmover-bench"
expect 0 "bench kqueue --quick" env PATH=/usr/bin:/bin "$dir/bin/bsdshim" bench kqueue --quick -- --only a
grep -q "kqueue-bench ran with: --quick --only a" "$dir/out" && ok || fail "bench passed: $(cat "$dir/out")"
expect 8 "bench of a failing benchmark" env PATH=/usr/bin:/bin "$dir/bin/bsdshim" bench dmover
expect 8 "bench of a missing benchmark" env PATH=/usr/bin:/bin "$dir/bin/bsdshim" bench dmover-io
grep -q "dmover-io-bench not found" "$dir/err" && ok || fail "missing benchmark message: $(cat "$dir/err")"

echo "$checks checks passed, $failures failed"
[ $failures -eq 0 ]
