#!/bin/sh
# Runs opskit's benchmarks side by side with their anchors (curl,
# prometheus-blackbox-exporter; parallel-ssh and Ansible for the fleet;
# Alertmanager for the alert storm; the sqlite3 shell and pandas for incident
# history; timeout + ssh and parallel-ssh for stopping remote commands) and
# rewrites the generated sections of bench/RESULTS.md.
# Everything talks to loopback only: the probe benchmarks take 2-5 minutes,
# the fleet about 11, the storm about 1.5, mttr about 4.
#   npm run bench                                    all of them
#   sh bench/run.sh startup|throughput|memory ...    only those (their section is
#                                                    rewritten when all three ran)
#   sh bench/run.sh fleet                            the fleet section only
#   sh bench/run.sh storm                            the storm section only
#   sh bench/run.sh ha                               the ha section only: the storm against one server on
#                                                    SQLite, one and three replicas on PostgreSQL, and the
#                                                    takeover after SIGKILL (about 10 minutes)
#   sh bench/run.sh mttr                             the mttr section only
#   sh bench/run.sh audit                            the audit section only (about 2.5 minutes)
#   sh bench/run.sh stop                             the stop section only (about 15 minutes)
#   sh bench/run.sh agent                            the agent section only, as root (bpftrace): opskit
#                                                    agent, polling /proc and tail -F on one stream of
#                                                    processes and log lines (about 4 minutes)
#   sh bench/run.sh soak [--minutes N] [--checks N] [--growth]
#                                                    the soak section only, when named: opskit serve
#                                                    with 2,000 checks for 30 minutes, the dashboard
#                                                    open in Chromium; --growth adds 3 minutes each
#                                                    at 20, 200 and 2,000 checks (about 40 in all)
#   OPSKIT_BENCH_BEFORE=REV sh bench/run.sh builds   startup of this build against an earlier one
#                                                    (a git revision it builds, or an executable);
#                                                    only when named, about 3 minutes
#   OPSKIT_BENCH_BIN=PATH sh bench/run.sh ...        measure another opskit build
# Exit 0 when every benchmark measured (goals met or not; see the table),
# 1 when one could not measure, 64 for an unknown benchmark name.
set -eu
cd "$(dirname "$0")/.."
sh scripts/setup.sh bench
node_modules/.bin/bun scripts/build.ts --host
# 10,000 probes in flight need 10,000 descriptors in opskit and in the
# endpoints' process (500 SSH connections in the fleet benchmark fewer); a
# sandbox may cap the hard limit lower than 65536.
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"
mkdir -p bench/out
exec node_modules/.bin/bun bench/main.ts "$@"
