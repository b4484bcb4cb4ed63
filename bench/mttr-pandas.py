"""MTTR from a pager's CSV export with pandas: the script a team writes today,
the anchor of the MTTR benchmark (bench/mttr.ts).

    python3 bench/mttr-pandas.py FILE UNTIL_MS [WINDOW_DAYS]

Reads the export, and for the window before UNTIL and the one before that,
per service and overall: count, median, p90 and mean of the four phases as
opskit's README defines them (time to detect = detected - started; isolate =
acknowledged - detected, or - started when the export has no detected time;
recover = resolved - acknowledged; resolve = resolved - started), in
milliseconds; an incident without a phase's
milestones is left out of that phase, open ones are left out of recover and
resolve. Percentiles interpolate linearly, as numpy's default. Prints JSON.
"""
import json
import sys

import pandas as pd

TIMES = ["started", "detected", "acknowledged", "resolved"]
PHASES = {
    "detect": ("started", "detected"),
    "isolate": ("detected_or_started", "acknowledged"),
    "recover": ("acknowledged", "resolved"),
    "resolve": ("started", "resolved"),
}


def phase_stats(frame):
    """count, median, p90, mean of each phase, per service and overall."""
    out = {"overall": {}, "services": {}}
    for phase in PHASES:
        ms = frame[["service", phase]].dropna()
        ms = ms[ms[phase] >= 0]
        by = ms.groupby("service")[phase]
        table = pd.DataFrame({"count": by.count(), "median": by.median(), "p90": by.quantile(0.9), "mean": by.mean()})
        for service, row in table.iterrows():
            out["services"].setdefault(service, {})[phase] = {k: float(v) for k, v in row.items()}
        column = ms[phase]
        out["overall"][phase] = {"count": int(column.count()), "median": float(column.median()), "p90": float(column.quantile(0.9)), "mean": float(column.mean())}
    return out


def main():
    path, until_ms = sys.argv[1], int(sys.argv[2])
    width = pd.Timedelta(days=float(sys.argv[3]) if len(sys.argv) > 3 else 30)
    incidents = pd.read_csv(path, usecols=["id", "service", "started", "detected", "acknowledged", "resolved"])
    for column in TIMES:
        incidents[column] = pd.to_datetime(incidents[column], utc=True, format="%Y-%m-%dT%H:%M:%SZ")
    incidents["detected_or_started"] = incidents["detected"].fillna(incidents["started"])
    for phase, (start, end) in PHASES.items():
        incidents[phase] = (incidents[end] - incidents[start]).dt.total_seconds() * 1000

    until = pd.Timestamp(until_ms, unit="ms", tz="UTC")
    windows = []
    for since, before in [(until - 2 * width, until - width), (until - width, until)]:
        window = incidents[(incidents["started"] >= since) & (incidents["started"] < before)]
        stats = phase_stats(window)
        windows.append({"since": since.isoformat(), "until": before.isoformat(), "incidents": len(window), "open": int(window["resolved"].isna().sum()), **stats})
    json.dump({"windows": windows}, sys.stdout)
    print()


main()
