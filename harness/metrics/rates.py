"""Binary classification metrics as pure functions, vectorised over bootstrap replicates.

A replicate is a vector of non-negative weights over the images (how often each image was drawn);
the point estimate is the replicate whose weights are all 1. Every function here accepts weights of
shape ``(N,)`` or ``(B, N)`` and returns one value per replicate. Undefined values are ``NaN`` at
this level (the JSON layer turns them into ``None`` with a reason); the rule for each metric is in
``METRIC_INFO``, read from the metric catalogue (``harness.metrics.catalogue``).

Decision rule: an image is predicted positive when ``p >= threshold``.
"""
from __future__ import annotations

import numpy as np

from .catalogue import CATALOGUE, CELL_METRICS

#: Judged metrics of one cell, in the order used everywhere (``catalogue.CELL_METRICS``).
METRICS: tuple[str, ...] = CELL_METRICS

#: Proportions (a count over a count): eligible for the Wilson interval.
PROPORTIONS: tuple[str, ...] = tuple(m for m in METRICS if CATALOGUE[m].kind == "rate")

#: Direction, denominator and the rule for an undefined value, per metric (from the catalogue).
METRIC_INFO: dict[str, dict] = {m: CATALOGUE[m].info() for m in METRICS}

#: Why a value is undefined, as written into results.json.
UNDEFINED_REASON: dict[str, str] = {m: CATALOGUE[m].undefined_reason for m in METRICS}

ECE_BINS = 10


def _div(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    """num / den with NaN where den == 0 (no warnings)."""
    num = np.asarray(num, dtype=np.float64)
    den = np.asarray(den, dtype=np.float64)
    out = np.full(np.broadcast(num, den).shape, np.nan)
    np.divide(num, den, out=out, where=den != 0)
    return out


def rates_from_counts(tp, fp, fn, tn) -> dict[str, np.ndarray]:
    """Threshold metrics from confusion counts (arrays of any common shape).

    Returns accuracy, balanced_accuracy, sensitivity, specificity, precision, npv, f1,
    f1_negative and macro_f1, NaN where undefined (see ``METRIC_INFO``).
    """
    tp, fp, fn, tn = (np.asarray(a, dtype=np.float64) for a in (tp, fp, fn, tn))
    sens = _div(tp, tp + fn)
    spec = _div(tn, tn + fp)
    f1_pos = _div(2 * tp, 2 * tp + fp + fn)
    f1_neg = _div(2 * tn, 2 * tn + fn + fp)
    return {
        "accuracy": _div(tp + tn, tp + fp + fn + tn),
        "balanced_accuracy": (sens + spec) / 2,
        "sensitivity": sens,
        "specificity": spec,
        "precision": _div(tp, tp + fp),
        "npv": _div(tn, tn + fn),
        "f1": f1_pos,
        "f1_negative": f1_neg,
        "macro_f1": (f1_pos + f1_neg) / 2,
    }


def ece_bin_index(p: np.ndarray, bins: int = ECE_BINS) -> np.ndarray:
    """Equal-width bin of each probability on [0, 1]: bin k = [k/bins, (k+1)/bins), last closed."""
    return np.clip(np.floor(np.asarray(p, dtype=np.float64) * bins), 0, bins - 1).astype(np.intp)


def weighted_auc(y_true: np.ndarray, score: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """ROC AUC (Mann-Whitney, ties count 1/2) for every row of ``weights``.

    Parameters
    ----------
    y_true : (n,) bool or 0/1
    score : (n,) float
    weights : (B, n) non-negative weights (bootstrap counts); ``(n,)`` is treated as one row.

    Returns
    -------
    (B,) float, NaN where a row has no positive or no negative weight.
    """
    y = np.asarray(y_true).astype(bool)
    s = np.asarray(score, dtype=np.float64)
    w = np.atleast_2d(np.asarray(weights, dtype=np.float64))
    neg = ~y
    order = np.argsort(s[neg], kind="stable")
    s_neg = s[neg][order]
    cum = np.zeros((w.shape[0], s_neg.size + 1))
    np.cumsum(w[:, np.flatnonzero(neg)[order]], axis=1, out=cum[:, 1:])
    s_pos = s[y]
    lo = np.searchsorted(s_neg, s_pos, side="left")
    hi = np.searchsorted(s_neg, s_pos, side="right")
    below = cum[:, lo]
    half = cum[:, hi]                       # in place, few (B, n) temporaries:
    half -= below                           # the weight tied with each positive
    half *= 0.5
    half += below                           # below + ties / 2
    total_neg = cum[:, -1].copy()
    del cum
    w_pos = w[:, y]
    num = np.einsum("bi,bi->b", w_pos, half)
    return _div(num, w_pos.sum(axis=1) * total_neg)


def binary_metrics(y_true: np.ndarray, p: np.ndarray, *, threshold: float,
                   weights: np.ndarray | None = None,
                   ece_bins: int = ECE_BINS) -> dict[str, np.ndarray]:
    """Every metric in ``METRICS`` for one cell, for every replicate of ``weights``.

    Parameters
    ----------
    y_true : (n,) 0/1, 1 = positive class.
    p : (n,) probability of the positive class.
    threshold : predicted positive when ``p >= threshold``.
    weights : (B, n) bootstrap counts (from ``bootstrap_counts``); None = one replicate of ones
        (the point estimate).
    ece_bins : equal-width bins on [0, 1] for the expected calibration error.

    Returns
    -------
    dict metric name -> (B,) float64, NaN where undefined; plus ``"tp"``, ``"fp"``, ``"fn"``,
    ``"tn"`` (weighted counts).
    """
    y = np.asarray(y_true).astype(bool)
    p = np.asarray(p, dtype=np.float64)
    if y.shape != p.shape or y.ndim != 1:
        raise ValueError(f"y_true and p must be 1-D of one length (got {y.shape} and {p.shape})")
    w = np.ones((1, y.size)) if weights is None else np.atleast_2d(np.asarray(weights, np.float64))
    stats = w @ sufficient_columns(y, p, threshold=threshold, ece_bins=ece_bins)
    out = metrics_from_stats(stats, ece_bins=ece_bins)
    out["roc_auc"] = weighted_auc(y, p, w)
    return out


def sufficient_columns(y: np.ndarray, p: np.ndarray, *, threshold: float,
                       ece_bins: int = ECE_BINS) -> np.ndarray:
    """Per-image columns whose weighted sums give every metric except AUC.

    Columns: tp, fp, positives, negatives, squared error, then one column per ECE bin holding
    ``p - y`` for the images in that bin (0 elsewhere). ``weights @ columns`` -> sums per replicate.
    """
    y = np.asarray(y).astype(bool)
    p = np.asarray(p, dtype=np.float64)
    pred = p >= threshold
    yf = y.astype(np.float64)
    cols = np.zeros((y.size, 5 + ece_bins))
    cols[:, 0] = y & pred
    cols[:, 1] = ~y & pred
    cols[:, 2] = yf
    cols[:, 3] = 1.0 - yf
    cols[:, 4] = (p - yf) ** 2
    cols[np.arange(y.size), 5 + ece_bin_index(p, ece_bins)] = p - yf
    return cols


def metrics_from_stats(stats: np.ndarray, *, ece_bins: int = ECE_BINS) -> dict[str, np.ndarray]:
    """Metrics (all but AUC) from weighted sums of ``sufficient_columns`` (shape (..., 5+bins))."""
    tp, fp, pos, neg = stats[..., 0], stats[..., 1], stats[..., 2], stats[..., 3]
    fn, tn = pos - tp, neg - fp
    n = pos + neg
    out = rates_from_counts(tp, fp, fn, tn)
    out["brier"] = _div(stats[..., 4], n)
    out["ece"] = _div(np.abs(stats[..., 5:5 + ece_bins]).sum(axis=-1), n)
    out.update(tp=tp, fp=fp, fn=fn, tn=tn)
    return out
