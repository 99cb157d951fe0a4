"""Every metric of every cell and variant, for every bootstrap replicate, in a few matrix products.

For one grouping: ``W`` is the (B+1, N) weight matrix whose row 0 is all ones (the point
estimate) and rows 1..B are the stratified resample counts. For each cell (overall, then each group)
the per-image columns of every variant (``rates.sufficient_columns`` plus the flip columns) are
stacked side by side and multiplied by the cell's slice of ``W`` once; AUC is computed per variant
from cumulative weights (``rates.weighted_auc``). Nothing is resampled by copying data.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .rates import ECE_BINS, METRICS, metrics_from_stats, sufficient_columns, weighted_auc

#: Per-image robustness statistics of a variant against clean (shares of the cell's images).
FLIP_STATS: tuple[str, ...] = ("flip_rate", "right_to_wrong", "wrong_to_right", "mean_abs_delta_p")


def flip_columns(y: np.ndarray, p_clean: np.ndarray, p_variant: np.ndarray, *,
                 threshold: float) -> np.ndarray:
    """(n, 4) per-image columns: flipped, right->wrong, wrong->right, |p_variant - p_clean|."""
    y = np.asarray(y).astype(bool)
    pc = np.asarray(p_clean, dtype=np.float64)
    pv = np.asarray(p_variant, dtype=np.float64)
    pred_c = pc >= threshold
    pred_v = pv >= threshold
    right_c = pred_c == y
    right_v = pred_v == y
    return np.stack([pred_c != pred_v, right_c & ~right_v, ~right_c & right_v, np.abs(pv - pc)],
                    axis=1).astype(np.float64)


@dataclass
class Replicates:
    """Metric replicates of one grouping (row 0 of the last axis is the point estimate)."""

    cells: list[str]             # "overall", then the groups
    members: list[np.ndarray]    # image indices of each cell
    variants: list[str]          # "clean" first
    values: np.ndarray           # (V, C, len(METRICS), B+1)
    flips: np.ndarray            # (V, C, len(FLIP_STATS), B+1); variant 0 (clean) is all zero
    counts: np.ndarray           # (V, C, 4) point tp, fp, fn, tn
    flip_counts: np.ndarray      # (V, C, 3) point flips, right->wrong, wrong->right
    metric_names: tuple[str, ...] = METRICS   # the third axis of ``values``


def compute_replicates(*, y: np.ndarray, P: np.ndarray, variants: list[str], cells: list[str],
                       members: list[np.ndarray], weights: np.ndarray, threshold: float,
                       ece_bins: int = ECE_BINS) -> Replicates:
    """Fill a ``Replicates`` for one grouping.

    Parameters
    ----------
    y : (N,) bool labels. P : (V, N) probabilities, row 0 = clean.
    weights : (B+1, N), row 0 all ones.
    """
    V = P.shape[0]
    C = len(cells)
    R = weights.shape[0]
    n_suff = 5 + ece_bins
    n_flip = len(FLIP_STATS)
    values = np.empty((V, C, len(METRICS), R))
    flips = np.zeros((V, C, n_flip, R))
    counts = np.zeros((V, C, 4))
    flip_counts = np.zeros((V, C, 3))
    width = n_suff + n_flip
    for c, idx in enumerate(members):
        yc = y[idx]
        wc = weights[:, idx]
        cols = np.zeros((idx.size, V * width))
        for v in range(V):
            pv = P[v, idx]
            cols[:, v * width:v * width + n_suff] = sufficient_columns(yc, pv, threshold=threshold,
                                                                     ece_bins=ece_bins)
            if v:
                cols[:, v * width + n_suff:(v + 1) * width] = flip_columns(
                    yc, P[0, idx], pv, threshold=threshold)
        sums = (wc @ cols).reshape(R, V, width)
        n_w = sums[:, 0, 2] + sums[:, 0, 3]
        with np.errstate(invalid="ignore", divide="ignore"):
            for v in range(V):
                m = metrics_from_stats(sums[:, v, :n_suff], ece_bins=ece_bins)
                m["roc_auc"] = weighted_auc(yc, P[v, idx], wc)
                values[v, c] = np.stack([m[name] for name in METRICS])
                counts[v, c] = [m["tp"][0], m["fp"][0], m["fn"][0], m["tn"][0]]
                if v:
                    flips[v, c] = (sums[:, v, n_suff:] / n_w[:, None]).T
                    flip_counts[v, c] = sums[0, v, n_suff:n_suff + 3]
    return Replicates(cells=cells, members=members, variants=variants, values=values,
                      flips=flips, counts=counts, flip_counts=flip_counts)
