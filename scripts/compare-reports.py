#!/usr/bin/env python3
"""Compares the deterministic fields of two `run --json` reports.

Usage: compare-reports.py OLD.json NEW.json [LABEL]

Ignored: wall-clock figures (fields ending in Seconds, Millis, Micros, Nanos,
PerSecond, and the latency/pause distributions), process-wide heap and CPU
figures, the time series and the schema version. Fields present in only one
report are listed but do not fail the comparison (a newer schema may add
fields); fields present in both must be equal. The invariant report became a
typed object in schema 2: its text form is compared with schema 1's string;
the tracker's "drop" result is "dropVerdict" in schema 2.
"""
import json
import sys

WALL_SUFFIXES = ("Seconds", "Millis", "Micros", "Nanos", "PerSecond")
IGNORED = {"schemaVersion", "allocator", "memory", "timeSeries", "latencyNanos", "reaperPauseMicros",
           "perWorkerPacketsPerSecond", "counterOverheadNote", "cpu", "reaperHealth", "warnings",
           "reaperIntervalsMillis", "source", "slotName"}


def normalise(report):
    out = {}
    for key, value in report.items():
        if key in IGNORED or key.endswith(WALL_SUFFIXES):
            continue
        if key == "invariants" and isinstance(value, dict):
            value = value.get("summary", value)
        if key == "trackerResults":
            # Schema 2 names gVisor's ResultDrop "dropVerdict".
            value = {("drop" if k == "dropVerdict" else k): v for k, v in value.items()}
        out[key] = value
    # Interval values are virtual time, so they are deterministic: keep them.
    if "reaperIntervalsMillis" in report:
        out["reaperIntervals"] = report["reaperIntervalsMillis"]
    return out


def main():
    old_path, new_path = sys.argv[1], sys.argv[2]
    label = sys.argv[3] if len(sys.argv) > 3 else new_path
    with open(old_path) as f:
        old = normalise(json.load(f))
    with open(new_path) as f:
        new = normalise(json.load(f))
    diffs = [k for k in sorted(set(old) & set(new)) if old[k] != new[k]]
    only_old = sorted(set(old) - set(new))
    for k in diffs:
        print(f"{label}: {k}: {json.dumps(old[k])[:200]} != {json.dumps(new[k])[:200]}")
    if only_old:
        print(f"{label}: fields only in the old report: {', '.join(only_old)}")
    if diffs:
        return 1
    print(f"{label}: same ({len(set(old) & set(new))} fields)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
