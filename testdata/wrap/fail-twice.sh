#!/bin/sh
# Fails twice, then succeeds: $1 is the counter file.
n=$(cat "$1" 2>/dev/null || echo 0)
n=$((n + 1))
echo "$n" >"$1"
if [ "$n" -lt 3 ]; then
  echo "attempt $n failed" >&2
  exit 1
fi
echo "attempt $n ok"
