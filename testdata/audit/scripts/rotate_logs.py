#!/usr/bin/env python3
"""Rotates service logs on every host. Planted risks for opskit audit's tests.

A docstring that mentions subprocess.run(cmd, shell=True) and verify=False
is not code, so it is no finding.
"""
import subprocess
import requests
import yaml
from subprocess import check_output

SLACK_TOKEN = "xoxb-2816493057-Hk7qPz3RtW9mVbN4cXy8Ld2F"
settings = {"password": "hunter2-prod"}


def rotate(host, service):
    subprocess.run(f"ssh {host} logrotate -f /etc/logrotate.d/{service}", shell=True, check=True)
    check_output("ssh %s systemctl reload %s" % (host, service), shell=True)
    requests.post("https://logs.internal/rotated", json={"host": host}, verify=False)
    with open("/etc/rotate.yaml") as f:
        return yaml.load(f, Loader=yaml.FullLoader)


def safe(host):
    # None of these is a finding: a literal command, a list, a safe loader.
    subprocess.run("systemctl daemon-reload", shell=True, check=True)
    subprocess.run(["ssh", host, "uptime"], check=True)
    requests.get("https://logs.internal/health", timeout=5)
    with open("/etc/rotate.yaml") as f:
        return yaml.safe_load(f) or yaml.load(f, Loader=yaml.SafeLoader)
