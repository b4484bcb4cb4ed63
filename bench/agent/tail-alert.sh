#!/bin/bash
# The log baseline: `tail -F` piped to a script, the kind a team writes
# before it has an agent. Every line is counted; a line that says ALERT is
# posted to opskit serve's generic endpoint as an alert (jq builds the body,
# so the line travels as data, never as JSON or shell). When tail ends (it
# is sent SIGTERM), the count goes to COUNT_FILE.
# Usage: OPSKIT_TOKEN=... tail-alert.sh LOG ALERTS_URL COUNT_FILE
set -u
log=$1
url=$2
count_file=$3

tail -F -n 0 "$log" 2>/dev/null | {
  n=0
  while IFS= read -r line; do
    n=$((n + 1))
    case $line in
      *ALERT*)
        jq -cn --arg line "$line" '{labels: {alertname: "TailLine", line: $line}}' |
          curl -sS -m 5 -o /dev/null -H "authorization: Bearer $OPSKIT_TOKEN" -H 'content-type: application/json' --data-binary @- "$url" ||
          echo "tail-alert: post failed" >&2
        ;;
    esac
  done
  echo "$n" >"$count_file"
}
