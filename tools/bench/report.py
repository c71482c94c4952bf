#!/usr/bin/env python3
"""Turn the JSON result lines of Weft, Dask and Ray into a table and results.json.

    report.py --lines target/bench/lines.jsonl --out target/bench/results.json
              [--command "tools/bench/run ..."] [--loadavg-start "a b c"]

Input: one JSON object per line, in the format documented at the top of
tools/bench/README.md.  Lines that tools/bench/run adds itself carry
"skipped" or "error" instead of measurements.  Standard library only.

Exit status: 0 when every line that was not skipped is a checked result
("ok" true, or absent and no "error"); 1 otherwise.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import sys

SYSTEMS = ("weft", "dask", "ray")
# Lines beside the table: Weft's embedded cluster (one process) and
# workload e's yardstick, a plain TCP copy between two processes.
EXTRA_SYSTEMS = ("weft-embedded", "tcp")
WORKLOADS = {
    "a": ("map inc, gather all", "tasks/s", "tasks_per_s"),
    "b": ("tree reduction (inc leaves, pairwise add)", "tasks/s", "tasks_per_s"),
    "c": ("10 MB partitions: gen, filter, sum, total", "MB/s", "mb_per_s"),
    "d": ("map inc at scale (Weft 10^6 tasks, peers 10^5: per-task cost compared)", "tasks/s", "tasks_per_s"),
    "e": ("one 1 GiB value from one worker to another", "MB/s", "mb_per_s"),
}
# Workloads whose ratio compares per-task cost although the sizes differ.
PER_TASK = {"d"}


def load(path: str) -> tuple[list[dict], list[str]]:
    records, problems = [], []
    with open(path, encoding="utf-8") as f:
        for i, line in enumerate(f, 1):
            line = line.strip()
            if not line:
                continue
            try:
                rec = json.loads(line)
            except json.JSONDecodeError as exc:
                problems.append(f"line {i}: not JSON ({exc}): {line[:120]}")
                continue
            if (not isinstance(rec, dict) or rec.get("system") not in SYSTEMS + EXTRA_SYSTEMS
                    or rec.get("workload") not in WORKLOADS):
                problems.append(f"line {i}: needs \"system\" in {SYSTEMS + EXTRA_SYSTEMS} and \"workload\" in "
                                f"{'/'.join(WORKLOADS)}: {line[:120]}")
                continue
            records.append(rec)
    return records, problems


def state(rec: dict | None) -> str:
    """'ok', 'skipped', 'failed' or 'missing'."""
    if rec is None:
        return "missing"
    if "skipped" in rec:
        return "skipped"
    if "error" in rec or rec.get("ok") is False:
        return "failed"
    return "ok"


def validate(rec: dict, metric: str) -> str | None:
    for key in ("tasks", "seconds", "tasks_per_s") + ((metric,) if metric != "tasks_per_s" else ()):
        v = rec.get(key)
        if not isinstance(v, (int, float)) or isinstance(v, bool) or v <= 0:
            return f"field {key!r} missing or not a positive number"
    return None


def fmt_num(v: float) -> str:
    if v >= 100:
        return f"{v:,.0f}"
    if v >= 10:
        return f"{v:,.1f}"
    return f"{v:,.2f}"


def fmt_secs(v: float) -> str:
    return f"{v:.3f}" if v < 1 else f"{v:.2f}" if v < 10 else f"{v:.1f}"


def fmt_ratio(v: float | None, why: str) -> str:
    if v is None:
        return why
    return f"{v:,.0f}x" if v >= 100 else f"{v:,.1f}x" if v >= 10 else f"{v:.2f}x"


def _loadavg() -> str:
    try:
        with open("/proc/loadavg", encoding="ascii") as f:
            return " ".join(f.read().split()[:3])
    except OSError:
        return "unknown"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--lines", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--command", default="")
    ap.add_argument("--loadavg-start", default="")
    ap.add_argument("--git", default="", help="the commit measured")
    args = ap.parse_args()

    records, problems = load(args.lines)
    for p in problems:
        print(f"report: {p}", file=sys.stderr)

    # Last record wins per (system, workload).
    by = {}
    for rec in records:
        by[(rec["system"], rec["workload"])] = rec

    bad = bool(problems)
    workloads_out = {}
    rows = []
    seen_workloads = [w for w in WORKLOADS if any(k[1] == w for k in by)]
    quick = any(r.get("quick") for r in records)
    for w in seen_workloads:
        desc, unit, metric = WORKLOADS[w]
        cells, systems_out, values = {}, {}, {}
        for s in SYSTEMS:
            rec = by.get((s, w))
            st = state(rec)
            if st == "ok":
                err = validate(rec, metric)
                if err:
                    st = "failed"
                    rec = dict(rec, error=f"bad result line: {err}")
            if st == "ok":
                values[s] = rec
                cells[s] = f"{fmt_num(rec[metric])} ({fmt_secs(rec['seconds'])} s)"
                systems_out[s] = dict(rec, status="ok")
            elif st == "skipped":
                cells[s] = "skipped"
                systems_out[s] = {"status": "skipped", "reason": rec["skipped"]}
            elif st == "failed":
                bad = True
                cells[s] = "FAILED"
                systems_out[s] = dict(rec, status="failed")
            else:
                cells[s] = "-"
                systems_out[s] = {"status": "not run"}
        sizes = {values[s]["tasks"] for s in values}
        ratios = {}
        for peer in ("dask", "ray"):
            key = f"weft_over_{peer}"
            if "weft" in values and peer in values:
                if values["weft"]["tasks"] != values[peer]["tasks"] and w not in PER_TASK:
                    ratios[key], why = None, "sizes differ"
                else:
                    ratios[key], why = values["weft"][metric] / values[peer][metric], ""
            else:
                ratios[key], why = None, "-"
            cells[key] = fmt_ratio(ratios[key], why)
        extra = {}
        for s in EXTRA_SYSTEMS:
            rec = by.get((s, w))
            if rec is None:
                continue
            st = state(rec)
            err = validate(rec, metric) if st == "ok" else None
            if st == "failed" or err:
                bad = True
                extra[s] = dict(rec, status="failed", **({"error": err} if err else {}))
            elif st == "ok":
                ratio = values["weft"][metric] / rec[metric] if "weft" in values else None
                extra[s] = dict(rec, status="ok", weft_over_this=round(ratio, 4) if ratio else None)
            else:
                extra[s] = {"status": "skipped", "reason": rec["skipped"]}
        tasks = next(iter(sizes)) if len(sizes) == 1 else sorted(sizes) if sizes else None
        label = f"{w}  {desc}"
        if isinstance(tasks, int) and w != "e":
            label += f", {tasks:,} tasks"
        rows.append((label, unit, cells, extra))
        workloads_out[w] = {
            "other_lines": extra,
            "description": desc,
            "unit": unit,
            "metric": metric,
            "tasks": tasks,
            "systems": systems_out,
            **{k: (round(v, 4) if v is not None else None) for k, v in ratios.items()},
        }

    versions = {}
    for rec in records:
        if "version" in rec:
            versions.setdefault(rec["system"], rec["version"])

    # ---- table
    heads = ("workload", "unit", "weft", "dask", "ray", "weft/dask", "weft/ray")
    body = [(label, unit, c["weft"], c["dask"], c["ray"], c["weft_over_dask"], c["weft_over_ray"])
            for label, unit, c, _ in rows]
    widths = [max(len(r[i]) for r in (heads, *body)) for i in range(len(heads))]
    line = lambda r: "  ".join(  # noqa: E731
        (r[i].ljust(widths[i]) if i < 2 else r[i].rjust(widths[i])) for i in range(len(r))
    ).rstrip()
    title = "Weft vs dask.distributed vs Ray" + (" (--quick sizes: not for publication)" if quick else "")
    print(title)
    if versions:
        print("versions: " + ", ".join(f"{k} {v}" for k, v in versions.items()))
    print(line(heads))
    print(line(tuple("-" * n for n in widths)))
    for r in body:
        print(line(r))
    print("cells: throughput (wall seconds from first submit to last result); ratios are Weft's throughput over the peer's")
    names = {"weft-embedded": "weft, embedded cluster (one process)", "tcp": "plain TCP copy between two processes"}
    for label, unit, _, extra in rows:
        for s, rec in extra.items():
            if rec["status"] == "ok":
                ratio = rec.get("weft_over_this")
                print(f"  {label.split()[0]}: {names[s]}: {fmt_num(rec[WORKLOADS[label.split()[0]][2]])} {unit} "
                      f"({fmt_secs(rec['seconds'])} s); weft/this {fmt_ratio(ratio, '-')}")
    said = set()
    for (s, w), rec in sorted(by.items(), key=lambda kv: (kv[0][1], (SYSTEMS + EXTRA_SYSTEMS).index(kv[0][0]))):
        if state(rec) == "skipped":
            if (s, rec["skipped"]) not in said:
                said.add((s, rec["skipped"]))
                print(f"  {s}: skipped: {rec['skipped']}")
        elif state(rec) == "failed":
            print(f"  {s} {w}: FAILED: {rec.get('error', 'ok is false')}")

    # ---- JSON
    out = {
        "generated_at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "command": args.command,
        "git": args.git,
        "quick": quick,
        "host": {
            "cpus": os.cpu_count(),
            "machine": platform.machine(),
            "system": platform.system(),
            "loadavg_start": args.loadavg_start,
            "loadavg_end": _loadavg(),
        },
        "versions": versions,
        "workloads": workloads_out,
        "records": records,
    }
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    with open(args.out, "w", encoding="utf-8") as f:
        json.dump(out, f, indent=2)
        f.write("\n")
    print(f"wrote {args.out}")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
