#!/usr/bin/python3
# The polling baseline: the kind of watcher a team writes before it has an
# agent. Every 100 ms it lists /proc, reads the name of each process it had
# not seen in the listing before, counts processes by name, and posts an
# alert to opskit serve's generic endpoint for each new process named
# WATCH_COMM. A process that starts and ends between two listings is never
# seen. On SIGTERM it writes its counts (JSON) to COUNTS_FILE and exits.
# Usage: OPSKIT_TOKEN=... proc-poll.py INTERVAL_SEC WATCH_COMM ALERTS_URL COUNTS_FILE
import json
import os
import signal
import sys
import time
import urllib.request

interval = float(sys.argv[1])
watch = sys.argv[2]
url = sys.argv[3]
counts_file = sys.argv[4]
token = os.environ["OPSKIT_TOKEN"]

counts = {}
polls = 0
post_failures = 0
running = True


def stop(_signum, _frame):
    global running
    running = False


signal.signal(signal.SIGTERM, stop)


def alert(pid, comm):
    global post_failures
    body = json.dumps({"labels": {"alertname": "PollExec", "comm": comm, "pid": str(pid)}}).encode()
    request = urllib.request.Request(url, data=body, method="POST", headers={"content-type": "application/json", "authorization": "Bearer " + token})
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            response.read()
    except OSError as error:
        post_failures += 1
        print(f"proc-poll: alert for pid {pid} failed: {error}", file=sys.stderr)


previous = set()
while running:
    started = time.monotonic()
    current = set()
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            current.add(int(entry))
    for pid in current - previous:
        try:
            with open(f"/proc/{pid}/comm") as f:
                comm = f.read().rstrip("\n")
        except OSError:
            continue  # ended while we looked
        counts[comm] = counts.get(comm, 0) + 1
        if comm == watch:
            alert(pid, comm)
    previous = current
    polls += 1
    left = interval - (time.monotonic() - started)
    if left > 0 and running:
        time.sleep(left)

with open(counts_file, "w") as f:
    json.dump({"counts": counts, "polls": polls, "postFailures": post_failures}, f)
