#!/bin/sh
# SPDX-License-Identifier: BSD-2-Clause
# tool_test.sh BSDSHIM TOOL_REF PROJECT_VERSION: runs the bsdshim tool on real
# files and checks its output and exit statuses (the ones `bsdshim --help`
# documents) against tool_ref, an independent C implementation of CRC32C and
# XOR (and a JSON line checker).
set -u
tool=$1
ref=$2
project_version=$3
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
expect 0 "--version" "$tool" --version
[ "$(cat "$dir/out")" = "$project_version" ] && ok \
  || fail "--version prints '$(cat "$dir/out")', the CMake project version is $project_version"

# json_has FILE LINE_NO_OR_ANY KEY=VALUE...: some line of the JSON lines in FILE
# (checked by tool_ref jsonl) has all the top-level fields given.
json_has() {
  file=$1; shift
  "$ref" jsonl "$file" >"$dir/fields" || { cat "$dir/fields"; return 1; }
  awk -v want="$*" '
    { have[$1 SUBSEP $2] = substr($0, length($1) + length($2) + 3); lines[$1] = 1 }
    END {
      n = split(want, pairs, " ")
      for (l in lines) {
        all = 1
        for (i = 1; i <= n; i++) {
          eq = index(pairs[i], "=")
          if (have[l SUBSEP substr(pairs[i], 1, eq - 1)] != substr(pairs[i], eq + 1)) all = 0
        }
        if (all) exit 0
      }
      exit 1
    }' "$dir/fields"
}

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
# --json: a failed file is an error object too, and the status is still non-zero.
expect 3 "crc32c --json with a missing file" "$tool" crc32c --json "$dir/nonexistent" "$dir/check"
json_has "$dir/out" "file=$dir/nonexistent" "status=3" && grep -q '"error":"[^"]*nonexistent' "$dir/out" && ok \
  || fail "crc32c --json error object: $(cat "$dir/out")"
json_has "$dir/out" "file=$dir/check" "crc32c=e3069283" && ok || fail "crc32c --json after an error: $(cat "$dir/out")"

# Progress on standard input: never into a pipe or file; on a terminal (script(1)
# gives one), bytes and rate.
head -c $((100 * 1024 * 1024)) /dev/zero >"$dir/zeros"
expect 0 "crc32c of 100 MiB on standard input" sh -c "\"$tool\" crc32c - <\"$dir/zeros\""
[ -s "$dir/err" ] && fail "progress written to stderr that is not a terminal: $(od -c "$dir/err" | head -3)" || ok
if command -v script >/dev/null && script -qec true /dev/null >/dev/null 2>&1; then
  script -qec "\"$tool\" crc32c - <\"$dir/zeros\" >/dev/null" /dev/null >"$dir/tty.out" 2>&1
  grep -Eq "standard input [0-9.]+ (B|[KMGT]iB) [0-9.]+ (B|[KMGT]iB)/s" "$dir/tty.out" && ok \
    || fail "no progress on a terminal for standard input: $(od -c "$dir/tty.out" | head -5)"
else
  echo "(no script(1) or no pseudo-terminal: the progress-on-a-terminal check is skipped)"
fi
rm -f "$dir/zeros"
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
ls -A "$dir" | grep -q bsdshim- && fail "a temporary file was left behind" || ok
chmod 640 "$dir/p"
expect 0 "parity create over an existing parity file" "$tool" parity create -p "$dir/p" $m
[ "$(stat -c %a "$dir/p")" = 640 ] && ok || fail "a replaced parity file lost its mode: $(stat -c %a "$dir/p")"
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
expect 5 "parity create --json with mismatched sizes" "$tool" parity create --json -p "$dir/sp" "$dir/s1" "$dir/s2"
json_has "$dir/out" action=create ok=false status=5 && ok || fail "parity --json error object: $(cat "$dir/out")"
expect 2 "parity with one member" "$tool" parity create -p "$dir/sp" "$dir/s1"

# --- parity create/rebuild stopped by a signal: exit 128 + signal, nothing left ---
# Sparse 4 GiB members read fast but the output is written for real, so the run is
# caught mid-way: once its temporary file has grown past 1 MiB the tool is stopped
# (SIGSTOP, so it cannot finish meanwhile), sent the signal and continued.
# tool_ref run resets the signals: sh starts background jobs with SIGINT ignored.
mkdir "$dir/sig"
truncate -s 4G "$dir/sig/a" "$dir/sig/b" "$dir/sig/p"
printf marker | dd of="$dir/sig/a" conv=notrunc 2>/dev/null
# interrupt SIGNAL STATUS TARGET DESCRIPTION CMD...
interrupt() {
  signal=$1 want=$2 target=$3 what=$4; shift 4
  "$ref" run "$@" >"$dir/out" 2>"$dir/err" &
  pid=$!
  i=0
  while [ -z "$(find "$dir/sig" -name '.*bsdshim-*' -size +1M 2>/dev/null)" ] && [ $i -lt 1000 ]; do
    sleep 0.01; i=$((i + 1))
  done
  kill -STOP $pid
  [ -n "$(find "$dir/sig" -name '.*bsdshim-*' -size +1M)" ] && ok || fail "$what: no growing temporary file seen"
  kill -"$signal" $pid
  kill -CONT $pid
  wait $pid
  got=$?
  [ $got -eq "$want" ] && ok || fail "$what: status $got, expected $want ($(cat "$dir/err"))"
  [ "$(wc -l <"$dir/err")" -eq 1 ] && grep -q "interrupted by SIG$signal" "$dir/err" && ok \
    || fail "$what: message: $(cat "$dir/err")"
  leftover=$(ls -A "$dir/sig" | grep bsdshim-)
  [ -z "$leftover" ] && ok || fail "$what: temporary file left: $leftover"
}
interrupt INT 130 "$dir/sig/q" "SIGINT during parity create" "$tool" parity create -p "$dir/sig/q" "$dir/sig/a" "$dir/sig/b"
[ -e "$dir/sig/q" ] && fail "SIGINT during parity create: the parity file exists" || ok
interrupt TERM 143 "$dir/sig/q" "SIGTERM during parity create" "$tool" parity create -p "$dir/sig/q" "$dir/sig/a" "$dir/sig/b"
[ -e "$dir/sig/q" ] && fail "SIGTERM during parity create: the parity file exists" || ok
interrupt HUP 129 "$dir/sig/a" "SIGHUP during parity rebuild --member" \
  "$tool" parity rebuild -p "$dir/sig/p" --member "$dir/sig/a" "$dir/sig/a" "$dir/sig/b"
[ "$(head -c 6 "$dir/sig/a")" = marker ] && [ "$(stat -c %s "$dir/sig/a")" -eq 4294967296 ] && ok \
  || fail "SIGHUP during rebuild changed the member being replaced"
rm -rf "$dir/sig"

# --- a full file system: ENOSPC removes the temporary file, status 6, one message ---
# A 1 MiB tmpfs: mounted directly as root, else in a user namespace (unshare -rm);
# skipped where neither is allowed.
"$ref" gen $((seed + 7)) 2097152 "$dir/f1"
"$ref" gen $((seed + 8)) 2097152 "$dir/f2"
mkdir "$dir/small"
cat >"$dir/enospc.sh" <<'SCRIPT'
mount -t tmpfs -o size=1m tmpfs "$1" || exit 99
"$2" parity create -p "$1/p" "$3" "$4" 2>"$5"
echo "status=$?"
ls -A "$1"
umount "$1"
SCRIPT
if sh "$dir/enospc.sh" "$dir/small" "$tool" "$dir/f1" "$dir/f2" "$dir/err" >"$dir/out" 2>/dev/null; then
  :
elif command -v unshare >/dev/null \
  && unshare -rm sh "$dir/enospc.sh" "$dir/small" "$tool" "$dir/f1" "$dir/f2" "$dir/err" >"$dir/out" 2>/dev/null; then
  :
else
  : >"$dir/out"
fi
if grep -q "^status=" "$dir/out"; then
  grep -q "^status=6\$" "$dir/out" && ok || fail "ENOSPC: $(head -n 1 "$dir/out"), expected status=6"
  [ "$(sed 1d "$dir/out")" = "" ] && ok || fail "ENOSPC left files: $(sed 1d "$dir/out")"
  [ "$(wc -l <"$dir/err")" -eq 1 ] && grep -q "No space left on device" "$dir/err" && ok \
    || fail "ENOSPC message: $(cat "$dir/err")"
else
  echo "SKIPPED (ENOSPC check only): cannot mount a 1 MiB tmpfs here (needs root or user namespaces)"
fi

# Commands that only read keep the default signal action: SIGINT kills them at
# once (status 130 from the shell, and no message of the tool's own).
truncate -s 64G "$dir/sparse"
"$ref" run "$tool" crc32c --no-progress "$dir/sparse" >"$dir/out" 2>"$dir/err" &
pid=$!
sleep 0.3
kill -INT $pid
wait $pid
got=$?
[ $got -eq 130 ] && [ ! -s "$dir/err" ] && ok || fail "SIGINT during crc32c: status $got, stderr: $(cat "$dir/err")"
rm -f "$dir/sparse"

# --- watch ---
# wait_for FILE PATTERN: up to 30 s for a line matching PATTERN (grep -E).
wait_for() {
  i=0
  while ! grep -Eq "$2" "$1" && [ $i -lt 300 ]; do sleep 0.1; i=$((i + 1)); done
  grep -Eq "$2" "$1"
}

# A watched file: appends until the watcher reports (it may not have registered yet).
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
grep -q " written $dir/watched\$" "$dir/watch.out" && ok || fail "watch printed: $(cat "$dir/watch.out")"

# Inside a directory: which entry was added, written, changed, renamed, removed.
# A probe file shows that the watcher is registered; each step waits for its line.
mkdir "$dir/wdir"
"$tool" watch --timeout 60 "$dir/wdir" >"$dir/watch.out" 2>"$dir/watch.err" &
pid=$!
i=0
while ! grep -q "added $dir/wdir/probe" "$dir/watch.out" && [ $i -lt 150 ]; do
  : >"$dir/wdir/probe$i"; sleep 0.2; i=$((i + 1))
done
d="$dir/wdir"
: >"$d/new"
wait_for "$dir/watch.out" " added $d/new\$" && ok || fail "watch: create not reported"
echo data >>"$d/new"
wait_for "$dir/watch.out" " written $d/new\$" && ok || fail "watch: write not reported"
chmod 600 "$d/new"
wait_for "$dir/watch.out" " attributes $d/new\$" && ok || fail "watch: chmod not reported"
mv "$d/new" "$d/moved"
wait_for "$dir/watch.out" " renamed $d/new -> $d/moved\$" && ok || fail "watch: rename not reported"
rm "$d/moved"
wait_for "$dir/watch.out" " removed $d/moved\$" && ok || fail "watch: remove not reported"
# Without -r a subdirectory's own entries are not reported.
mkdir "$d/sub"
: >"$d/sub/inner"
: >"$d/after"
wait_for "$dir/watch.out" " added $d/after\$" && ok || fail "watch: file after a subdirectory not reported"
grep -q "inner" "$dir/watch.out" && fail "watch without -r reported an entry of a subdirectory" || ok
kill $pid 2>/dev/null; wait $pid 2>/dev/null
[ -s "$dir/watch.err" ] && fail "watch wrote to stderr: $(cat "$dir/watch.err")" || ok
echo "watch printed:"; sed 's/^/  /' "$dir/watch.out"

# -r --json: a subdirectory made while watching, and a file in it; every line parses.
mkdir "$dir/rdir"
r="$dir/rdir"
"$tool" watch -r --json --timeout 60 "$r" >"$dir/watch.out" 2>"$dir/watch.err" &
pid=$!
i=0
while ! grep -q "\"path\":\"$r/probe" "$dir/watch.out" && [ $i -lt 150 ]; do
  : >"$r/probe$i"; sleep 0.2; i=$((i + 1))
done
mkdir "$r/sub"
wait_for "$dir/watch.out" "\"path\":\"$r/sub\"" && ok || fail "watch -r: new subdirectory not reported"
: >"$r/sub/file"
wait_for "$dir/watch.out" "\"path\":\"$r/sub/file\"" && ok || fail "watch -r: file in a new subdirectory not reported"
echo data >>"$r/sub/file"
wait_for "$dir/watch.out" "\"event\":\"written\",\"path\":\"$r/sub/file\"" && ok || fail "watch -r: write in a new subdirectory"
# Made and filled at once: what is already inside when the watcher looks is reported as added.
mkdir -p "$r/a/b" && : >"$r/a/b/c"
wait_for "$dir/watch.out" "\"path\":\"$r/a/b/c\"" && ok || fail "watch -r: a/b/c not reported"
mv "$r/sub/file" "$r/a/file2"
wait_for "$dir/watch.out" "\"event\":\"renamed\"" && ok || fail "watch -r: move between subdirectories"
kill $pid 2>/dev/null; wait $pid 2>/dev/null
json_has "$dir/watch.out" event=added "path=$r/sub" type=dir && ok || fail "watch --json: subdirectory line"
json_has "$dir/watch.out" event=added "path=$r/sub/file" type=file && ok || fail "watch --json: file line"
json_has "$dir/watch.out" event=written "path=$r/sub/file" && ok || fail "watch --json: written line"
json_has "$dir/watch.out" event=added "path=$r/a/b" type=dir && json_has "$dir/watch.out" event=added "path=$r/a/b/c" \
  && ok || fail "watch --json: a/b and a/b/c"
json_has "$dir/watch.out" event=renamed "from=$r/sub/file" "to=$r/a/file2" "path=$r/a/file2" && ok \
  || fail "watch --json: renamed line with from and to"
echo "watch -r --json printed:"; sed 's/^/  /' "$dir/watch.out"

expect 0 "watch --timeout with no events" "$tool" watch --timeout 0.2 "$dir/check"
expect 3 "watch of a missing path" "$tool" watch --timeout 1 "$dir/nonexistent"
expect 3 "watch --json of a missing path" "$tool" watch --json --timeout 1 "$dir/nonexistent"
json_has "$dir/out" "path=$dir/nonexistent" status=3 && ok || fail "watch --json error object: $(cat "$dir/out")"

# --- bench: the real benchmarks are too long for a test; stand-ins beside a
# copy of the tool check the lookup, the arguments passed and the statuses ---
expect 2 "bench with an unknown benchmark" "$tool" bench nonsense
mkdir -p "$dir/bin"
cp "$tool" "$dir/bin/bsdshim"
printf '#!/bin/sh\necho "kqueue-bench ran with: $*"\n' >"$dir/bin/kqueue-bench"
chmod +x "$dir/bin/kqueue-bench"
expect 0 "bench kqueue --quick" env PATH=/usr/bin:/bin "$dir/bin/bsdshim" bench kqueue --quick -- --only a
grep -q "kqueue-bench ran with: --quick --only a" "$dir/out" && ok || fail "bench passed: $(cat "$dir/out")"
head -n 1 "$dir/out" | grep -q "^CPU: .*caches: L1" && ok || fail "bench does not start with the CPU and caches: $(head -n 1 "$dir/out")"
expect 8 "bench of a missing benchmark" env PATH=/usr/bin:/bin "$dir/bin/bsdshim" bench dmover-io
grep -q "dmover-io-bench not found" "$dir/err" && ok || fail "missing benchmark message: $(cat "$dir/err")"
# dmover-bench missing (no ISA-L when it was built): asked for, a failure with the
# way to get it; within "all", skipped with the same hint.
expect 8 "bench dmover without dmover-bench" env PATH=/usr/bin:/bin "$dir/bin/bsdshim" bench dmover
grep -q "install libisal-dev .*rebuild" "$dir/err" && ok || fail "no ISA-L hint: $(cat "$dir/err")"
printf '#!/bin/sh\necho "dmover-io-bench ran"\n' >"$dir/bin/dmover-io-bench"
chmod +x "$dir/bin/dmover-io-bench"
expect 0 "bench all without dmover-bench" env PATH=/usr/bin:/bin "$dir/bin/bsdshim" bench all
grep -q "libisal-dev.*skipped" "$dir/err" && grep -q "dmover-io-bench ran" "$dir/out" && ok \
  || fail "bench all without dmover-bench: $(cat "$dir/out" "$dir/err")"
printf '#!/bin/sh\nexit 3\n' >"$dir/bin/dmover-bench"
chmod +x "$dir/bin/dmover-bench"
expect 8 "bench of a failing benchmark" env PATH=/usr/bin:/bin "$dir/bin/bsdshim" bench dmover

echo "$checks checks passed, $failures failed"
[ $failures -eq 0 ]
