#!/bin/sh
# Runs every test: installs prerequisites, type-checks, runs `bun test`, and
# ends with one line "N passed, N failed" for CI.
set -u
cd "$(dirname "$0")/.."
sh scripts/setup.sh || { echo "0 passed, 1 failed"; exit 1; }

# Thousands of concurrent sockets in the fleet tests need descriptors.
ulimit -n 65536 2>/dev/null || ulimit -n 16384 2>/dev/null || true

log=$(mktemp)
status=0
node_modules/.bin/bun test --timeout 60000 "$@" 2>&1 | tee "$log" || status=1
pass=$(sed -n 's/^ *\([0-9][0-9]*\) pass$/\1/p' "$log" | tail -1)
fail=$(sed -n 's/^ *\([0-9][0-9]*\) fail$/\1/p' "$log" | tail -1)
rm -f "$log"
pass=${pass:-0}
fail=${fail:-0}
if [ "$status" != "0" ] && [ "$fail" = "0" ]; then fail=1; fi
echo "$pass passed, $fail failed"
[ "$fail" = "0" ]
