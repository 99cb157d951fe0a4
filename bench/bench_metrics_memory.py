"""Benchmark: peak memory the metrics stage adds, blocked bootstrap weights against the whole matrix.

Run: ``.venv/bin/python bench/bench_metrics_memory.py [--images 1000,16000,100000] [--boot 1000]``.
For each size, one fresh process per path runs ``audit_metrics`` (31 variants: clean + 30, 7
groups, one grouping, B = ``--boot``) and prints the peak RSS it added over the process before
the call (``resource.getrusage``), and the seconds. ``after`` is the library as it is (weights made
``ROW_BLOCK`` rows at a time); ``before`` puts back the whole-matrix path the audit used until the
weights were blocked (``bootstrap_counts`` stacked under a row of ones, one product of every
variant's columns per cell, ``weighted_auc`` on all B+1 rows), kept here as the reference. Never
asserts anything. The whole-matrix path at 100,000 images needs several GB.
"""
from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

from bench_metrics import make_inputs  # noqa: E402


def _old_weighted_auc(y_true, score, weights):
    """``rates.weighted_auc`` as it was (two copies of the negatives' weights, more temporaries)."""
    from harness.metrics.rates import _div

    y = np.asarray(y_true).astype(bool)
    s = np.asarray(score, dtype=np.float64)
    w = np.atleast_2d(np.asarray(weights, dtype=np.float64))
    neg = ~y
    order = np.argsort(s[neg], kind="stable")
    s_neg = s[neg][order]
    w_neg = w[:, neg][:, order]
    cum = np.zeros((w.shape[0], w_neg.shape[1] + 1))
    np.cumsum(w_neg, axis=1, out=cum[:, 1:])
    s_pos = s[y]
    lo = np.searchsorted(s_neg, s_pos, side="left")
    hi = np.searchsorted(s_neg, s_pos, side="right")
    below = cum[:, lo]
    equal = cum[:, hi] - below
    w_pos = w[:, y]
    num = np.einsum("bi,bi->b", w_pos, below + 0.5 * equal)
    return _div(num, w_pos.sum(axis=1) * cum[:, -1])


def _old_compute_replicates(*, y, P, variants, cells, members, weights, threshold, ece_bins=10):
    """``replicates.compute_replicates`` on the whole (B+1, N) matrix, as it was."""
    from harness.metrics.rates import METRICS, metrics_from_stats, sufficient_columns
    from harness.metrics.replicates import FLIP_STATS, Replicates, flip_columns

    V, C, R = P.shape[0], len(cells), weights.shape[0]
    n_suff, n_flip = 5 + ece_bins, len(FLIP_STATS)
    width = n_suff + n_flip
    values = np.empty((V, C, len(METRICS), R))
    flips = np.zeros((V, C, n_flip, R))
    counts, flip_counts = np.zeros((V, C, 4)), np.zeros((V, C, 3))
    for c, idx in enumerate(members):
        yc, wc = y[idx], weights[:, idx]
        cols = np.zeros((idx.size, V * width))
        for v in range(V):
            cols[:, v * width:v * width + n_suff] = sufficient_columns(
                yc, P[v, idx], threshold=threshold, ece_bins=ece_bins)
            if v:
                cols[:, v * width + n_suff:(v + 1) * width] = flip_columns(
                    yc, P[0, idx], P[v, idx], threshold=threshold)
        sums = (wc @ cols).reshape(R, V, width)
        n_w = sums[:, 0, 2] + sums[:, 0, 3]
        with np.errstate(invalid="ignore", divide="ignore"):
            for v in range(V):
                m = metrics_from_stats(sums[:, v, :n_suff], ece_bins=ece_bins)
                m["roc_auc"] = _old_weighted_auc(yc, P[v, idx], wc)
                values[v, c] = np.stack([m[name] for name in METRICS])
                counts[v, c] = [m["tp"][0], m["fp"][0], m["fn"][0], m["tn"][0]]
                if v:
                    flips[v, c] = (sums[:, v, n_suff:] / n_w[:, None]).T
                    flip_counts[v, c] = sums[0, v, n_suff:n_suff + 3]
    return Replicates(cells=cells, members=members, variants=variants, values=values,
                      flips=flips, counts=counts, flip_counts=flip_counts)


def _old_weights(groups, y, *, n_boot, seed):
    from harness.metrics.bootstrap import bootstrap_counts

    return np.vstack([np.ones((1, y.size)), bootstrap_counts(groups, y, n_boot=n_boot, seed=seed)])


def child(n: int, path: str, n_boot: int) -> dict:
    """One measurement in this process: peak RSS added by ``audit_metrics`` and its seconds."""
    from harness.metrics import audit as audit_module

    if path == "before":
        audit_module.resample_blocks = _old_weights
        audit_module.compute_replicates = _old_compute_replicates
    y, p, groups, _ = make_inputs(n, 7)
    base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    t = time.perf_counter()
    audit_module.audit_metrics(y_true=y, p=p, groups={"group": groups}, threshold=0.5,
                               n_boot=n_boot)
    seconds = time.perf_counter() - t
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {"images": n, "path": path, "variants": len(p), "base_mb": base / 1024,
            "added_mb": (peak - base) / 1024, "seconds": seconds}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--images", default="1000,16000,100000")
    ap.add_argument("--boot", type=int, default=1000)
    ap.add_argument("--paths", default="before,after")
    ap.add_argument("--child", nargs=2, metavar=("IMAGES", "PATH"), help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child:
        print(json.dumps(child(int(args.child[0]), args.child[1], args.boot)))
        return 0
    print(f"audit_metrics, 31 variants x 7 groups, one grouping, B={args.boot}: peak RSS added")
    for n in (int(x) for x in args.images.split(",")):
        for path in args.paths.split(","):
            out = subprocess.run([sys.executable, __file__, "--boot", str(args.boot), "--child",
                                  str(n), path], capture_output=True, text=True)
            if out.returncode:
                print(f"{n:>8} images  {path:<6}  failed: {out.stderr.strip()[-300:]}")
                continue
            r = json.loads(out.stdout.strip().splitlines()[-1])
            print(f"{n:>8} images  {path:<6}  +{r['added_mb']:8.1f} MB over {r['base_mb']:6.1f} MB"
                  f"  {r['seconds']:7.2f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
