#!/bin/sh
# SPDX-License-Identifier: BSD-2-Clause
# exports.sh LIB: libbsdshim.so exports only our C names (no Swift symbol:
# exports.map keeps them local), has soname libbsdshim.so.0, and (when built with the static Swift
# runtime) needs no Swift library at run time.
set -u
lib=$1
static=${2:-ON}
fail=0
pass=0
check() { if eval "$2"; then pass=$((pass+1)); echo "ok   $1"; else fail=$((fail+1)); echo "FAIL $1"; fi; }

# Global symbols only: a hidden thread-local variable shows as a local
# (lowercase) entry of the dynamic table, which no program can bind to.
unexpected=$(nm -D --defined-only "$lib" | awk '$2 ~ /^[A-Z]$/ {print $3}' \
  | grep -v -E '^(_edata$|_end$|__bss_start$|_init$|_fini$)' \
  | grep -v -E '^(kqueue|kevent|libkqueue_drain_pending_close)$' \
  | grep -v -E '^(dmover_|bsdshim_)' || true)
check "exports_only_bsd_names_and_prefixed_extensions" '[ -z "$unexpected" ] || { echo "unexpected exports: $unexpected"; false; }'
check "exports_kqueue_kevent_drain" '[ "$(nm -D --defined-only "$lib" | grep -c -E " T (kqueue|kevent|libkqueue_drain_pending_close)$")" = 3 ]'
check "soname_is_libbsdshim_so_0" 'readelf -d "$lib" | grep -q "SONAME.*\[libbsdshim.so.0\]"'
check "no_interposed_open_or_ioctl" '! nm -D --defined-only "$lib" | grep -q -E " T (open|open64|openat|ioctl|close)$"'
if [ "$static" = "ON" ]; then
  check "no_swift_runtime_needed" '! readelf -d "$lib" | grep NEEDED | grep -q -i swift'
fi
echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
