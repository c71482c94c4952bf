#!/usr/bin/env python3
"""Run the peer-comparison workloads on dask.distributed or on Ray.

    peers.py --system dask|ray --workload a[,b,c,d,e] [--quick] [--timeout SECONDS]

Prints one JSON object per measured workload on stdout (and nothing else on
stdout); progress and the peers' own logging go to stderr.  The line format is
the one documented at the top of tools/bench/README.md, which Weft's
`weft-bench` binary prints too.

Exit codes: 0 all selected workloads ran and their results checked out;
1 a workload failed, timed out or gave a wrong result (a line with "ok": false
and "error" is printed for it); 2 bad arguments; 3 the system could not be
imported or started (nothing was measured).

Workloads (identical semantics on every system; see README.md):
  a  map inc(x) = x + 1 over N integers 0..N-1, gather all; check the sum.
  b  tree reduction: leaves inc(i) for i in 0..L-1, then pairwise add level by
     level down to one value; check it equals L(L+1)/2.
  c  P partitions of 10 MB: gen(p) makes the 1,250,000 little-endian i64
     values p*1,250,000 .. (p+1)*1,250,000-1, filter keeps the values divisible
     by 3, sum adds them; one final task sums the P sums; check the closed form.
  d  as a, for the per-task cost at scale: Weft runs 10^6 tasks, the peers
     100,000 (10^6 would take Dask about half an hour here); compare per-task
     cost, not totals.
  e  one 1 GiB value (numpy uint8) made by a task pinned to worker 1 (not
     timed), then consumed by a task pinned to worker 2 (timed: the copy plus
     one trivial task). On Ray, with one node, the object store is shared
     memory and nothing is copied between workers.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import time

# Sizes.  --quick is for smoke tests only; published numbers are full size.
FULL = {"a": 100_000, "b": 65_536, "c": 100, "d": 100_000, "e": 1 << 30}
QUICK = {"a": 10_000, "b": 4_096, "c": 10, "d": 10_000, "e": 64 << 20}
WARMUP = {"a": 500, "b": 256, "c": 2, "d": 500, "e": 1 << 20}
PART_VALUES = 1_250_000  # i64 values per partition: 10,000,000 bytes = 10 MB
PART_BYTES = PART_VALUES * 8

DESCRIPTIONS = {
    "a": "map inc over N inputs, gather all",
    "b": "tree reduction: L inc leaves, L-1 pairwise adds",
    "c": "P x 10 MB partitions: gen, filter %3, sum, final sum",
    "d": "map inc over N inputs, gather all (per-task cost at scale)",
    "e": "one value of N bytes from worker 1 to a task on worker 2",
}


# --------------------------------------------------------------------------
# Task bodies.  Module-level so that both systems pickle them the same way.
# --------------------------------------------------------------------------

def inc(x):
    return x + 1


def add(a, b):
    return a + b


def gen_part(p):
    import numpy as np

    start = p * PART_VALUES
    return np.arange(start, start + PART_VALUES, dtype="<i8")


def filter_part(arr):
    return arr[arr % 3 == 0]


def sum_part(arr):
    return int(arr.sum(dtype="<i8"))


def total(*sums):
    return sum(sums)


def gen_bytes(n):
    import numpy as np

    return np.full(n, 0x5A, dtype=np.uint8)


def nbytes(arr):
    return int(arr.nbytes)


# --------------------------------------------------------------------------
# Expected results and task counts.
# --------------------------------------------------------------------------

def expected(workload: str, n: int) -> int:
    if workload == "e":
        return n
    if workload in ("a", "b", "d"):
        return n * (n + 1) // 2  # sum of inc(i) for i in 0..n-1
    # c: multiples of 3 in 0..M-1, M = n * PART_VALUES; k of them: 0, 3, .., 3(k-1)
    m = n * PART_VALUES
    k = (m + 2) // 3
    return 3 * k * (k - 1) // 2


def task_count(workload: str, n: int) -> int:
    if workload in ("a", "d"):
        return n
    if workload == "e":
        return 1
    if workload == "b":
        return 2 * n - 1
    return 3 * n + 1


# --------------------------------------------------------------------------
# Dask
# --------------------------------------------------------------------------

class DaskRunner:
    name = "dask"

    def __init__(self) -> None:
        import dask
        import distributed
        from distributed import Client, LocalCluster

        self.version = distributed.__version__
        self.dask_version = dask.__version__
        log("dask: starting LocalCluster(n_workers=2, threads_per_worker=1, processes=True)")
        self.cluster = LocalCluster(
            n_workers=2,
            threads_per_worker=1,
            processes=True,
            dashboard_address=None,
        )
        self.client = Client(self.cluster)
        self.client.wait_for_workers(2, timeout=120)

    def close(self) -> None:
        # Workers' heartbeats race the scheduler's shutdown and log harmless
        # tracebacks; silence distributed's loggers (in the workers and here,
        # where the scheduler runs) for the shutdown only, and retire the
        # workers before closing the scheduler.
        import logging

        def _quiet():
            logging.getLogger("distributed").setLevel(logging.CRITICAL)

        try:
            self.client.run(_quiet)
            _quiet()
            self.client.retire_workers(close_workers=True)
        except Exception as exc:  # noqa: BLE001
            log(f"dask: before shutdown: {type(exc).__name__}: {exc}")
        try:
            self.client.close(timeout=30)
        finally:
            self.cluster.close(timeout=30)

    def run(self, workload: str, n: int) -> tuple[int, float]:
        client = self.client
        keep = []  # every future stays referenced until the clock stops
        if workload == "e":
            import distributed

            w1, w2 = sorted(client.scheduler_info()["workers"])[:2]
            x = client.submit(gen_bytes, n, workers=[w1], pure=False)
            distributed.wait(x)
            t0 = time.perf_counter()
            result = client.submit(nbytes, x, workers=[w2], pure=False).result()
            seconds = time.perf_counter() - t0
            del x
            return result, seconds
        t0 = time.perf_counter()
        if workload in ("a", "d"):
            futs = client.map(inc, range(n), pure=False)
            keep.append(futs)
            result = sum(client.gather(futs))
        elif workload == "b":
            level = client.map(inc, range(n), pure=False)
            keep.append(level)
            while len(level) > 1:
                level = client.map(add, level[0::2], level[1::2], pure=False)
                keep.append(level)
            result = level[0].result()
        else:
            parts = client.map(gen_part, range(n), pure=False)
            kept = client.map(filter_part, parts, pure=False)
            sums = client.map(sum_part, kept, pure=False)
            fut = client.submit(total, *sums, pure=False)
            keep += [parts, kept, sums]
            result = fut.result()
        seconds = time.perf_counter() - t0
        del keep
        return result, seconds


# --------------------------------------------------------------------------
# Ray
# --------------------------------------------------------------------------

class RayRunner:
    name = "ray"

    def __init__(self) -> None:
        os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
        import logging

        import ray

        self.ray = ray
        self.version = ray.__version__
        log("ray: starting ray.init(num_cpus=2)")
        ray.init(
            num_cpus=2,
            include_dashboard=False,
            log_to_driver=False,
            logging_level=logging.WARNING,
        )
        self.inc = ray.remote(inc)
        self.add = ray.remote(add)
        self.gen_part = ray.remote(gen_part)
        self.filter_part = ray.remote(filter_part)
        self.sum_part = ray.remote(sum_part)
        self.total = ray.remote(total)
        self.gen_bytes = ray.remote(gen_bytes)
        self.nbytes = ray.remote(nbytes)

    def close(self) -> None:
        self.ray.shutdown()

    def run(self, workload: str, n: int) -> tuple[int, float]:
        ray = self.ray
        keep = []
        if workload == "e":
            x = self.gen_bytes.remote(n)
            ray.wait([x], fetch_local=False)
            t0 = time.perf_counter()
            result = ray.get(self.nbytes.remote(x))
            seconds = time.perf_counter() - t0
            del x
            return result, seconds
        t0 = time.perf_counter()
        if workload in ("a", "d"):
            refs = [self.inc.remote(i) for i in range(n)]
            keep.append(refs)
            result = sum(ray.get(refs))
        elif workload == "b":
            level = [self.inc.remote(i) for i in range(n)]
            keep.append(level)
            while len(level) > 1:
                level = [self.add.remote(level[j], level[j + 1]) for j in range(0, len(level), 2)]
                keep.append(level)
            result = ray.get(level[0])
        else:
            parts = [self.gen_part.remote(p) for p in range(n)]
            kept = [self.filter_part.remote(r) for r in parts]
            sums = [self.sum_part.remote(r) for r in kept]
            ref = self.total.remote(*sums)
            keep += [parts, kept, sums]
            result = ray.get(ref)
        seconds = time.perf_counter() - t0
        del keep
        return result, seconds


# --------------------------------------------------------------------------
# Driver
# --------------------------------------------------------------------------

class Timeout(Exception):
    pass


_alarm_fired = False


def _on_alarm(signum, frame):
    # Raised from inside a C extension (Ray's ray.get) this may surface wrapped,
    # e.g. as SystemError; the flag tells a timeout apart from a real failure.
    global _alarm_fired
    _alarm_fired = True
    raise Timeout()


def _on_term(signum, frame):
    raise SystemExit(143)


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def main() -> int:
    global _alarm_fired
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--system", required=True, choices=["dask", "ray"])
    ap.add_argument("--workload", required=True, help="a, b, c or a comma list")
    ap.add_argument("--quick", action="store_true", help="small sizes for smoke tests")
    ap.add_argument("--timeout", type=float, default=600.0,
                    help="seconds allowed per workload (warm-up plus measured run)")
    args = ap.parse_args()
    workloads = [w.strip() for w in args.workload.split(",") if w.strip()]
    for w in workloads:
        if w not in FULL:
            ap.error(f"unknown workload {w!r} (expected a, b, c, d or e)")

    # stdout carries only our JSON lines; anything the peers print goes to stderr.
    out = sys.stdout
    sys.stdout = sys.stderr
    signal.signal(signal.SIGTERM, _on_term)
    signal.signal(signal.SIGALRM, _on_alarm)

    sizes = QUICK if args.quick else FULL
    cls = DaskRunner if args.system == "dask" else RayRunner
    try:
        runner = cls()
    except BaseException as exc:  # noqa: BLE001 - report any start failure
        log(f"{args.system}: failed to start: {type(exc).__name__}: {exc}")
        return 3

    status = 0
    try:
        for w in workloads:
            n = sizes[w]
            rec = {
                "system": args.system,
                "workload": w,
                "tasks": task_count(w, n),
                "size": n,
                "quick": args.quick,
                "version": runner.version,
            }
            _alarm_fired = False
            signal.setitimer(signal.ITIMER_REAL, args.timeout)
            try:
                log(f"{args.system} {w}: warm-up ({task_count(w, WARMUP[w])} tasks)")
                wres, _ = runner.run(w, WARMUP[w])
                if wres != expected(w, WARMUP[w]):
                    raise RuntimeError(f"warm-up gave {wres}, expected {expected(w, WARMUP[w])}")
                log(f"{args.system} {w}: measuring {rec['tasks']} tasks ({DESCRIPTIONS[w]}, size {n})")
                result, seconds = runner.run(w, n)
            except Timeout:
                rec.update(ok=False, error=f"timed out after {args.timeout:g} s")
                status = 1
            except Exception as exc:  # noqa: BLE001
                if _alarm_fired:
                    rec.update(ok=False, error=f"timed out after {args.timeout:g} s")
                else:
                    rec.update(ok=False, error=f"{type(exc).__name__}: {exc}")
                status = 1
            else:
                want = expected(w, n)
                rec.update(
                    seconds=round(seconds, 6),
                    tasks_per_s=round(rec["tasks"] / seconds, 3),
                    result=result,
                    expected=want,
                    ok=result == want,
                )
                rec["us_per_task"] = round(seconds * 1e6 / rec["tasks"], 3)
                if w == "c":
                    rec["mb_per_s"] = round(n * PART_BYTES / 1e6 / seconds, 3)
                if w == "e":
                    rec["mb_per_s"] = round(n / 1e6 / seconds, 3)
                    if args.system == "ray":
                        rec["setup"] = "one node: the object store is shared memory, nothing is copied between workers"
                if result != want:
                    rec["error"] = f"wrong result {result}, expected {want}"
                    status = 1
            finally:
                signal.setitimer(signal.ITIMER_REAL, 0)
            print(json.dumps(rec), file=out, flush=True)
            if rec.get("ok"):
                extra = f", {rec['mb_per_s']:,.1f} MB/s" if "mb_per_s" in rec else ""
                log(f"{args.system} {w}: {rec['tasks']} tasks in {rec['seconds']:.2f} s = "
                    f"{rec['tasks_per_s']:,.1f} tasks/s{extra}")
            else:
                log(f"{args.system} {w}: FAILED: {rec['error']}")
    finally:
        log(f"{args.system}: shutting down")
        try:
            runner.close()
        except BaseException as exc:  # noqa: BLE001
            log(f"{args.system}: shutdown error: {type(exc).__name__}: {exc}")
    return status


if __name__ == "__main__":
    sys.exit(main())
