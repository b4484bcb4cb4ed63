#!/bin/sh
# Installs what opskit's tests (or benchmarks) need on a fresh Debian machine:
# the pinned npm dependencies (Bun among them) and the real servers the tests
# talk to. Safe to run again: it installs only what is missing.
#   sh scripts/setup.sh         test prerequisites
#   sh scripts/setup.sh bench   test prerequisites plus benchmark anchors
set -eu
cd "$(dirname "$0")/.."

# command:package pairs; the command proves the package is installed.
need="sshd:openssh-server ssh-keygen:openssh-client dnsmasq:dnsmasq openssl:openssl curl:curl"
# The alert end-to-end tests run real Prometheus and Alertmanager on loopback.
need="$need prometheus:prometheus prometheus-alertmanager:prometheus-alertmanager"
# opskit audit merges ShellCheck's findings into its own.
need="$need shellcheck:shellcheck"
# The smtp:// probe tests talk to aiosmtpd, a real RFC 5321 server.
need="$need aiosmtpd:python3-aiosmtpd"
if [ "${1:-}" = "bench" ]; then
  # wrk drives blackbox_exporter; GNU time measures peak RSS; parallel-ssh
  # (pssh) and Ansible (ansible-core: raw and command modules, playbooks) are
  # the fleet benchmark's anchors.
  need="$need prometheus-blackbox-exporter:prometheus-blackbox-exporter hyperfine:hyperfine wrk:wrk"
  # The probe throughput benchmark's endpoints are one nginx (bench/nginx.ts
  # writes its config; the package's own service is never started).
  need="$need nginx:nginx"
  need="$need parallel-ssh:pssh ansible-playbook:ansible-core"
  # The stop benchmark counts the remote processes a stopped command left with pgrep.
  need="$need pgrep:procps"
  # The MTTR benchmark loads its CSV with the sqlite3 shell and computes the
  # same statistics with pandas (Debian's, for Debian's python3).
  need="$need sqlite3:sqlite3"
  /usr/bin/python3 -c 'import pandas' 2>/dev/null || need="$need python3-pandas:python3-pandas"
  [ -x /usr/bin/time ] || need="$need time:time"
fi

missing=""
for pair in $need; do
  cmd=${pair%%:*}
  pkg=${pair#*:}
  if ! command -v "$cmd" >/dev/null 2>&1 && [ ! -x "/usr/sbin/$cmd" ] && [ ! -x "/usr/bin/$cmd" ]; then
    missing="$missing $pkg"
  fi
done

if [ -n "$missing" ]; then
  if [ "$(id -u)" != "0" ]; then
    echo "setup: missing Debian packages:$missing" >&2
    echo "setup: run as root, or install them: sudo apt-get install -y$missing" >&2
    exit 1
  fi
  echo "setup: installing$missing" >&2
  export DEBIAN_FRONTEND=noninteractive
  # Another apt run may hold the lists lock; wait for it rather than fail.
  tries=0
  until apt-get -o DPkg::Lock::Timeout=300 update -qq >&2; do
    tries=$((tries + 1))
    [ "$tries" -lt 60 ] || { echo "setup: apt-get update kept failing" >&2; exit 1; }
    sleep 5
  done
  # --no-install-recommends keeps daemons we do not need off the machine;
  # policy-rc.d stops packages from starting their services on install.
  printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d
  apt-get -o DPkg::Lock::Timeout=300 install -y -qq --no-install-recommends $missing >&2
  rm -f /usr/sbin/policy-rc.d
fi

# npm ci when node_modules is missing or older than the lockfile.
if [ ! -x node_modules/.bin/bun ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "setup: installing npm dependencies" >&2
  npm ci --no-audit --no-fund >&2
fi
