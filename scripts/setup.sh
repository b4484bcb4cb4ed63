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
# The probe tests send requests through a real HTTP proxy (tinyproxy), and hold
# opskit serve's /probe to blackbox_exporter's metric names and labels.
need="$need tinyproxy:tinyproxy prometheus-blackbox-exporter:prometheus-blackbox-exporter"
# opskit audit merges ShellCheck's findings into its own.
need="$need shellcheck:shellcheck"
# The shell completion tests load the generated scripts into real fish and zsh.
need="$need fish:fish zsh:zsh"
# The smtp:// probe tests talk to aiosmtpd, a real RFC 5321 server.
need="$need aiosmtpd:python3-aiosmtpd"
# The dashboard's browser tests (and the soak benchmark) drive Debian's
# Chromium through playwright-core; axe-core checks accessibility there.
need="$need chromium:chromium"
# The etcd action's tests run real three-member etcd clusters on loopback.
need="$need etcd:etcd-server"
# Host patterns (opskit exec -H 'web[01-40]') are held to ClusterShell's nodeset -e.
need="$need nodeset:clustershell"
# The agent's kernel source drives bpftrace (its tests run it as root; the
# OOM test uses the kernel's memory cgroups, setpriv the non-root run).
need="$need bpftrace:bpftrace setpriv:util-linux"
# The agent's log tests rotate files with logrotate, and read journal files
# that systemd-journal-remote writes with journalctl (no journald needed).
need="$need logrotate:logrotate journalctl:systemd /lib/systemd/systemd-journal-remote:systemd-journal-remote"
# The linux-arm64 executable runs its agent tests on this machine under
# qemu-user (called directly, so binfmt_misc need not be registered) with the
# arm64 C library from the cross toolchain's libc.
need="$need qemu-aarch64-static:qemu-user-static /usr/aarch64-linux-gnu/lib/ld-linux-aarch64.so.1:libc6-arm64-cross"
# Workflow steps with become run through Debian's sudo on the test fleet.
need="$need sudo:sudo"
# The PostgreSQL journal and the high-availability tests use PostgreSQL 15
# (Debian 12's): the machine's server on 127.0.0.1:5432, and private servers
# the tests start with its initdb and pg_ctl.
PG_BIN=/usr/lib/postgresql/15/bin
need="$need $PG_BIN/initdb:postgresql-15 pg_ctlcluster:postgresql-common psql:postgresql-client-15"
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
  # The agent benchmark's tail -F baseline builds each alert with jq (and posts it with curl).
  need="$need jq:jq"
fi

missing=""
for pair in $need; do
  cmd=${pair%%:*}
  pkg=${pair#*:}
  if ! command -v "$cmd" >/dev/null 2>&1 && [ ! -x "/usr/sbin/$cmd" ] && [ ! -x "/usr/bin/$cmd" ] && [ ! -x "$cmd" ]; then
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

# The Kubernetes tests hold two kubectl versions to the test API server: the
# machine's (/usr/bin/kubectl, 1.32) and Debian's kubernetes-client (1.20).
# Debian's is unpacked into a cache, not installed, so that it does not replace
# /usr/bin/kubectl.
kubectl_debian="$HOME/.cache/opskit-test/kubectl-debian"
if [ ! -x "$kubectl_debian/usr/bin/kubectl" ]; then
  echo "setup: unpacking Debian's kubernetes-client into $kubectl_debian" >&2
  deb_dir=$(mktemp -d)
  if ! (cd "$deb_dir" && apt-get download kubernetes-client >&2); then
    [ "$(id -u)" = "0" ] && apt-get -o DPkg::Lock::Timeout=300 update -qq >&2
    (cd "$deb_dir" && apt-get download kubernetes-client >&2) || { echo "setup: apt-get download kubernetes-client failed" >&2; rm -rf "$deb_dir"; exit 1; }
  fi
  mkdir -p "$kubectl_debian"
  dpkg -x "$deb_dir"/kubernetes-client_*.deb "$kubectl_debian"
  rm -rf "$deb_dir"
fi

# PostgreSQL on 127.0.0.1:5432, user postgres without a password (trust), as
# the tests connect. A missing or unreachable server fails here, with the fix:
# in CI a missing prerequisite is a failure, never a skipped test.
pg_fresh=""
case "$missing" in *postgresql-15*) pg_fresh=1 ;; esac
pg_ok() { PGCONNECT_TIMEOUT=5 psql -w -h 127.0.0.1 -p 5432 -U postgres -d postgres -Atc 'SELECT 1' >/dev/null 2>&1; }
if ! pg_ok; then
  pg_version=$(ls /etc/postgresql 2>/dev/null | head -n 1)
  if [ -z "$pg_version" ]; then
    echo "setup: PostgreSQL is installed but has no cluster (/etc/postgresql is empty): create one with pg_createcluster 15 main --start" >&2
    exit 1
  fi
  if [ "$(id -u)" = "0" ]; then
    if [ -n "$pg_fresh" ]; then
      # Installed just now: let user postgres in from loopback without a password, as the tests connect.
      hba="/etc/postgresql/$pg_version/main/pg_hba.conf"
      { printf 'host all postgres 127.0.0.1/32 trust\n'; cat "$hba"; } > "$hba.new" && mv "$hba.new" "$hba"
      chown postgres:postgres "$hba"
      pg_ctlcluster --skip-systemctl-redirect "$pg_version" main reload >/dev/null 2>&1 || true
    fi
    if ! pg_lsclusters -h 2>/dev/null | grep -q "^$pg_version main .* online "; then
      echo "setup: starting PostgreSQL $pg_version" >&2
      pg_ctlcluster --skip-systemctl-redirect "$pg_version" main start >&2 || true
    fi
  fi
  tries=0
  until pg_ok; do
    tries=$((tries + 1))
    if [ "$tries" -ge 10 ]; then
      echo "setup: PostgreSQL is not reachable at 127.0.0.1:5432 as user postgres without a password" >&2
      echo "setup: start it (as root: pg_ctlcluster --skip-systemctl-redirect $pg_version main start) and let user postgres in from loopback: the line 'host all postgres 127.0.0.1/32 trust' first in /etc/postgresql/$pg_version/main/pg_hba.conf" >&2
      exit 1
    fi
    sleep 1
  done
fi

# npm ci when node_modules is missing or older than the lockfile.
if [ ! -x node_modules/.bin/bun ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "setup: installing npm dependencies" >&2
  npm ci --no-audit --no-fund >&2
fi
