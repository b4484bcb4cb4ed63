#!/bin/sh
# Runs opskit's benchmarks side by side with their anchors (curl,
# prometheus-blackbox-exporter) and rewrites the generated part of
# bench/RESULTS.md. Everything talks to 127.0.0.1 only; 2-5 minutes.
#   npm run bench                                    all three
#   sh bench/run.sh startup|throughput|memory ...    only those (RESULTS.md untouched)
# Exit 0 when every benchmark measured (goals met or not; see the table),
# 1 when one could not measure, 64 for an unknown benchmark name.
set -eu
cd "$(dirname "$0")/.."
sh scripts/setup.sh bench
node_modules/.bin/bun scripts/build.ts --host
# 10,000 probes in flight need 10,000 descriptors in opskit and in the
# endpoints' process; a sandbox may cap the hard limit lower than 65536.
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"
mkdir -p bench/out
exec node_modules/.bin/bun bench/main.ts "$@"
