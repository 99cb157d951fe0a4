"""Paired differences between two models scored on the same images (for ``compare``).

Both models are evaluated on the same stratified resamples (``bootstrap_counts`` of one grouping),
so the interval of ``candidate - baseline`` reflects only the difference between the models, not
the luck of the draw of images.
"""
from __future__ import annotations

import numpy as np

from .bootstrap import bootstrap_counts, percentile_interval
from .entries import by_cell, gap_entry
from .rates import METRICS, UNDEFINED_REASON
from .replicates import compute_replicates


def paired_deltas(*, y_true: np.ndarray, p_baseline: np.ndarray, p_candidate: np.ndarray,
                  groups: np.ndarray, threshold_baseline: float, threshold_candidate: float,
                  n_boot: int = 1000, seed: int = 0, level: float = 0.95) -> dict:
    """``candidate - baseline`` for every metric, overall and per group, with paired intervals.

    Parameters
    ----------
    y_true : (N,) 0/1; p_baseline, p_candidate : (N,) probabilities of the same images.
    groups : (N,) group labels (the resamples are stratified by group × label).
    threshold_baseline, threshold_candidate : each model's own operating threshold.

    Returns
    -------
    {"overall": {metric: G}, "groups": {group: {metric: G}}} where G is
    ``{"value", "ci", "reason"}`` (see docs/results-schema.md). Groups are sorted; no minimum-
    evidence rule is applied here (the caller reads each run's cell status).
    """
    y = np.asarray(y_true).astype(bool)
    g = np.asarray(groups).astype(str)
    names = sorted(set(g.tolist()))
    cells = ["overall"] + names
    members = [np.arange(y.size)] + [np.flatnonzero(g == n) for n in names]
    weights = np.vstack([np.ones((1, y.size)), bootstrap_counts(g, y, n_boot=n_boot, seed=seed)])
    reps = []
    for p, t in ((p_baseline, threshold_baseline), (p_candidate, threshold_candidate)):
        P = np.asarray(p, dtype=np.float64)[None, :]
        reps.append(compute_replicates(y=y, P=P, variants=["clean"], cells=cells, members=members,
                                       weights=weights, threshold=float(t)).values[0])
    delta = reps[1] - reps[0]                               # (C, M, B+1)
    lo, hi, n_undef = percentile_interval(delta[..., 1:], level=level, axis=-1)
    out = []
    for c in range(len(cells)):
        out.append({m: gap_entry(delta[c, k, 0], lo[c, k], hi[c, k], int(n_undef[c, k]), n_boot,
                                 undefined_reason=f"{UNDEFINED_REASON[m]} (in either model)")
                    for k, m in enumerate(METRICS)})
    return by_cell(cells, out)
