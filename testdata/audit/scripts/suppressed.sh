#!/bin/sh
set -eu
# opskit-audit: ignore OPS-SH-001 the installer is pinned by checksum upstream and this runs in a throwaway VM
curl -fsSL https://get.example.com/install.sh | sh

# opskit-audit: ignore OPS-SH-004
chmod 777 /tmp/shared-drop

chmod 777 /srv/exchange # opskit-audit: ignore OPS-SH-004 a drop box for the batch users, emptied hourly

# opskit-audit: ignore OPS-SH-006,OPS-SH-007 run by hand from an admin shell
sudo eval "$HOOK"
