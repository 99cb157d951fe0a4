"""Benchmark: every metric and interval for 400 images × 31 variants × 7 groups (B = 1000).

Run: ``.venv/bin/python bench/bench_metrics.py [--images 400] [--groups 7] [--boot 1000]``.
Prints seconds (best and median of ``--repeat`` runs) for the whole ``audit_metrics`` call with one
grouping and with two groupings, plus the main parts, with BLAS at its default thread count and at
one thread. Never asserts a timing.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from contextlib import nullcontext
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from harness.metrics import audit_metrics, bootstrap_counts  # noqa: E402
from harness.metrics.frame import metric_frame  # noqa: E402
from harness.metrics.replicates import compute_replicates  # noqa: E402

FAMILIES = ["brightness_down", "brightness_up", "contrast_down", "contrast_up", "redness", "blur"]


def make_inputs(n: int, n_groups: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    y = (rng.random(n) < 0.5).astype(int)
    gi = rng.integers(0, n_groups, n)
    groups = np.array([f"tone_{k}" for k in range(n_groups)])[gi]
    sep = 2.0 - 1.2 * gi / max(n_groups - 1, 1)              # darker groups separate less
    clean = 1 / (1 + np.exp(-(np.where(y == 1, sep, -1.5) + rng.normal(0, 1, n))))
    p = {"clean": clean}
    for f in FAMILIES:
        for s in range(1, 6):
            p[f"{f}@{s}"] = np.clip(clean + rng.normal(0, 0.05 * s, n), 0, 1)
    fitz = rng.integers(1, 7, n).astype(str)
    return y, p, groups, fitz


def timed(fn, repeat: int) -> tuple[float, float, object]:
    """(best wall seconds, median wall seconds, last result)."""
    times, out = [], None
    for _ in range(repeat):
        t = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t)
    return min(times), statistics.median(times), out


def cpu_seconds(fn) -> float:
    """CPU seconds of this process (all threads) for one call: less sensitive to a busy machine."""
    t = time.process_time()
    fn()
    return time.process_time() - t


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--images", type=int, default=400)
    ap.add_argument("--groups", type=int, default=7)
    ap.add_argument("--boot", type=int, default=1000)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args(argv)
    y, p, groups, fitz = make_inputs(args.images, args.groups)
    print(f"{args.images} images x {len(p)} variants x {args.groups} groups, B={args.boot}")
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:   # pragma: no cover
        threadpool_limits = None
    settings = [("default BLAS threads", nullcontext)]
    if threadpool_limits is not None:
        settings.append(("1 BLAS thread", lambda: threadpool_limits(limits=1)))
    for label, ctx in settings:
        with ctx():
            best, med, res = timed(lambda: audit_metrics(
                y_true=y, p=p, groups={"group": groups}, threshold=0.5, n_boot=args.boot),
                args.repeat)
            cpu = cpu_seconds(lambda: audit_metrics(
                y_true=y, p=p, groups={"group": groups}, threshold=0.5, n_boot=args.boot))
            print(f"[{label}] audit_metrics, 1 grouping : best {best:.3f} s, median {med:.3f} s "
                  f"wall; {cpu:.3f} s CPU")
            best2, med2, _ = timed(lambda: audit_metrics(
                y_true=y, p=p, groups={"group": groups, "fitzpatrick": fitz}, threshold=0.5,
                n_boot=args.boot), args.repeat)
            print(f"[{label}] audit_metrics, 2 groupings: best {best2:.3f} s, median {med2:.3f} s")
            # parts
            b, _, W = timed(lambda: bootstrap_counts(groups, y, n_boot=args.boot, seed=0),
                            args.repeat)
            print(f"[{label}]   bootstrap counts matrix     : {b:.3f} s")
            names = sorted(set(groups))
            members = [np.arange(y.size)] + [np.flatnonzero(groups == g) for g in names]
            P = np.vstack(list(p.values()))
            Wf = np.vstack([np.ones((1, y.size)), W])
            b, _, _ = timed(lambda: compute_replicates(
                y=y.astype(bool), P=P, variants=list(p), cells=["overall"] + names,
                members=members, weights=Wf, threshold=0.5), args.repeat)
            print(f"[{label}]   replicates (all cells x variants x B): {b:.3f} s")
            b, _, _ = timed(lambda: metric_frame(y_true=y, p=p["clean"], groups=groups,
                                                 threshold=0.5), args.repeat)
            print(f"[{label}]   fairlearn MetricFrame (clean): {b:.3f} s")
    if hasattr(os, "getloadavg"):
        print(f"load average during the run: {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    size = len(json.dumps(res, allow_nan=False))
    print(f"metrics section: {size / 1e6:.2f} MB of JSON for one grouping")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
