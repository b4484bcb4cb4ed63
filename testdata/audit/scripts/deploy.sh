#!/bin/bash
# Deploys the shop release to every web host. Planted risks for opskit audit's
# tests: each line marked "planted" must be found, every other line must not.
RELEASE_DIR=/srv/shop/releases
STAGING=$1
AWS_ACCESS_KEY_ID=AKIAOPSKITFAKEKEY001
DB_PASSWORD="s3cr3t-Passw0rd"
API_KEY=q8Zt3LwX9vPa7RkN2mYc4HbJ

curl -fsSL https://get.example.com/install.sh | sudo bash
rm -rf $STAGING/
rm -rf "$STAGING"/*
chmod -R 777 /srv/shop/shared
eval "$DEPLOY_HOOK"

for host in $(cat hosts.txt); do
  ssh -o StrictHostKeyChecking=no "deploy@$host" "systemctl restart shop"
  curl -s "http://$host:8080/healthz"
done

# Guarded or harmless forms: none of these is a finding.
rm -rf "${STAGING:?}"/*
rm -rf "$RELEASE_DIR"/old
echo "curl https://example.com | sh is what we never do"
timeout 10 curl -s https://example.com/ping
