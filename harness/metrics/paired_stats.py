"""Pure kernels for comparing two models scored on the same images.

- :func:`mcnemar`: McNemar's test on paired correct/incorrect predictions.
- :func:`cell_replicates_many`, :func:`flip_replicates_many`: statistics for the point estimate
  (row 0 of the weights) and every bootstrap replicate (rows 1..B), from one weight matrix that
  both models share — this is what makes a difference between the models *paired*.
- :func:`delta_entry`, :func:`interval_entry`: the JSON shapes of a paired difference and of any
  replicated statistic.

Nothing here reads files or draws random numbers: the resamples come in as weights
(``harness.metrics.bootstrap_indices`` -> ``counts_from_indices``).
"""
from __future__ import annotations

import math

import numpy as np

from harness.metrics import percentile_interval, weighted_auc
from harness.metrics.rates import metrics_from_stats, sufficient_columns

#: Below this many discordant pairs McNemar's test is the exact binomial test.
MCNEMAR_EXACT_BELOW = 25

MCNEMAR_RULE = (
    f"McNemar's test on the images where exactly one model is right (each model at its own "
    f"operating threshold): exact two-sided binomial test (p = min(1, 2·P[X <= min(b, c)]), "
    f"X ~ Binomial(b + c, 1/2)) when there are fewer than {MCNEMAR_EXACT_BELOW} such images, "
    f"otherwise the chi-square statistic with continuity correction (|b − c| − 1)² / (b + c) on "
    f"1 degree of freedom; p = 1 when there are none"
)

FLIP_STATS: tuple[str, ...] = ("flip_rate", "right_to_wrong", "wrong_to_right", "mean_abs_delta_p")


def mcnemar(correct_baseline: np.ndarray, correct_candidate: np.ndarray, *,
            exact_below: int = MCNEMAR_EXACT_BELOW) -> dict:
    """McNemar's test of two paired classifiers.

    Parameters
    ----------
    correct_baseline, correct_candidate : (n,) bool, whether each model is right on each image.
    exact_below : use the exact binomial test when the discordant count b + c is below this.

    Returns
    -------
    ``{"n", "both_correct", "both_wrong", "baseline_only_correct" (b), "candidate_only_correct"
    (c), "discordant", "method", "statistic", "p_value", "favours"}``; ``statistic`` is the
    chi-square value (None for the exact test), ``favours`` the model right on more of the
    discordant images (None on a tie).
    """
    a = np.asarray(correct_baseline, dtype=bool)
    c_ = np.asarray(correct_candidate, dtype=bool)
    if a.shape != c_.shape or a.ndim != 1:
        raise ValueError(f"correct_baseline and correct_candidate must be 1-D of one length "
                         f"(got {a.shape} and {c_.shape})")
    b = int(np.count_nonzero(a & ~c_))
    c = int(np.count_nonzero(~a & c_))
    n_disc = b + c
    if n_disc == 0:
        method, stat, p = "no discordant pairs", None, 1.0
    elif n_disc < exact_below:
        method, stat = "exact binomial", None
        k = min(b, c)
        tail = sum(math.comb(n_disc, i) for i in range(k + 1))
        p = min(1.0, 2.0 * tail / 2 ** n_disc)
    else:
        method = "chi-square with continuity correction"
        stat = max(abs(b - c) - 1, 0) ** 2 / n_disc   # Edwards: |b - c| <= 1 gives 0, p = 1
        p = math.erfc(math.sqrt(stat / 2.0))     # survival function of chi-square with 1 df
    return {
        "n": int(a.size), "both_correct": int(np.count_nonzero(a & c_)),
        "both_wrong": int(np.count_nonzero(~a & ~c_)), "baseline_only_correct": b,
        "candidate_only_correct": c, "discordant": n_disc, "method": method,
        "statistic": None if stat is None else float(stat), "p_value": float(p),
        "favours": None if b == c else ("candidate" if c > b else "baseline"),
    }


def cell_replicates_many(y: np.ndarray, P: np.ndarray, *, thresholds, weights: np.ndarray
                         ) -> dict[str, np.ndarray]:
    """Every cell metric (``harness.metrics.METRICS``) of K score vectors of the same images,
    for the point estimate (row 0 of ``weights``) and every replicate.

    Parameters
    ----------
    y : (n,) 0/1. P : (K, n) probabilities (e.g. two models × several variants).
    thresholds : (K,) the decision threshold of each row of ``P``.
    weights : (R, n) replicate weights (row 0 = all ones).

    Returns
    -------
    metric -> (K, R), identical to K calls of ``harness.metrics.binary_metrics`` (one matrix
    product for all rows instead of K; AUC per row).
    """
    y = np.asarray(y).astype(bool)
    P = np.atleast_2d(np.asarray(P, dtype=np.float64))
    w = np.atleast_2d(np.asarray(weights, dtype=np.float64))
    cols = [sufficient_columns(y, p, threshold=float(t)) for p, t in zip(P, thresholds)]
    width = cols[0].shape[1] if cols else 0
    sums = (w @ np.hstack(cols)).reshape(w.shape[0], len(cols), width).transpose(1, 0, 2)
    with np.errstate(invalid="ignore", divide="ignore"):
        out = metrics_from_stats(sums)
    out["roc_auc"] = np.stack([weighted_auc(y, p, w) for p in P])
    return out


def flip_replicates_many(y: np.ndarray, p_clean: np.ndarray, p_variant: np.ndarray, *,
                         thresholds, weights: np.ndarray) -> dict[str, np.ndarray]:
    """Flip statistics of K (clean, variant) score pairs per row of ``weights``: the share of
    images whose prediction changed, went right -> wrong, wrong -> right, and the mean
    |p_variant − p_clean|; stat -> (K, R)."""
    y = np.asarray(y).astype(bool)
    pc = np.atleast_2d(np.asarray(p_clean, dtype=np.float64))
    pv = np.atleast_2d(np.asarray(p_variant, dtype=np.float64))
    t = np.asarray(thresholds, dtype=np.float64)[:, None]
    pred_c, pred_v = pc >= t, pv >= t
    right_c, right_v = pred_c == y, pred_v == y
    cols = np.stack([pred_c != pred_v, right_c & ~right_v, ~right_c & right_v, np.abs(pv - pc)],
                    axis=2).astype(np.float64)                     # (K, n, 4)
    k, n, s = cols.shape
    w = np.atleast_2d(np.asarray(weights, dtype=np.float64))
    tot = w.sum(axis=1)
    sums = (w @ cols.transpose(1, 0, 2).reshape(n, k * s)).reshape(w.shape[0], k, s)
    with np.errstate(invalid="ignore", divide="ignore"):
        shares = np.where(tot[:, None, None] > 0, sums / tot[:, None, None], np.nan)
    return {name: shares[:, :, j].T for j, name in enumerate(FLIP_STATS)}


def fnum(x) -> float | None:
    """A finite float, or None."""
    if x is None:
        return None
    x = float(x)
    return x if math.isfinite(x) else None


def interval_entry(rep: np.ndarray, *, level: float, why: str) -> dict:
    """``{"value", "ci", "reason"}`` of a replicated statistic (row 0 = point estimate)."""
    rep = np.asarray(rep, dtype=np.float64)
    value = fnum(rep[0])
    if value is None:
        return {"value": None, "ci": None, "reason": why}
    lo, hi, n_undef = percentile_interval(rep[1:], level=level)
    lo, hi, n_undef = fnum(lo), fnum(hi), int(n_undef)
    if lo is None or hi is None:
        return {"value": value, "ci": None, "reason": f"undefined in every resample ({why})"}
    reason = (f"undefined in {n_undef} of {rep.size - 1} resamples ({why}); interval over the rest"
              if n_undef else None)
    return {"value": value, "ci": [lo, hi], "reason": reason}


def change_of(delta: float | None, ci, *, higher_is_better: bool) -> str | None:
    """"better" / "worse" when the paired interval excludes 0, else "no clear change"."""
    if delta is None:
        return None
    if not ci:
        return "no clear change"
    lo, hi = ci
    if lo > 0:
        return "better" if higher_is_better else "worse"
    if hi < 0:
        return "worse" if higher_is_better else "better"
    return "no clear change"


def delta_entry(base: np.ndarray, cand: np.ndarray, *, higher_is_better: bool, level: float,
                n: int | None, why: str) -> dict:
    """The paired difference ``candidate − baseline`` of one statistic.

    ``base`` and ``cand`` are replicate vectors over the *same* weights (row 0 = point estimate).
    Returns ``{"baseline", "candidate", "delta", "ci", "n", "reason", "change",
    "higher_is_better"}``.
    """
    base = np.asarray(base, dtype=np.float64)
    cand = np.asarray(cand, dtype=np.float64)
    e = interval_entry(cand - base, level=level, why=why)
    return {"baseline": fnum(base[0]), "candidate": fnum(cand[0]), "delta": e["value"],
            "ci": e["ci"], "n": n, "reason": e["reason"],
            "change": change_of(e["value"], e["ci"], higher_is_better=higher_is_better),
            "higher_is_better": bool(higher_is_better)}


def nan_spread(x: np.ndarray) -> np.ndarray:
    """max − min over axis 0 ignoring NaN; NaN where fewer than 2 values are defined."""
    x = np.asarray(x, dtype=np.float64)
    ok = ~np.isnan(x)
    hi = np.where(ok, x, -np.inf).max(axis=0)
    lo = np.where(ok, x, np.inf).min(axis=0)
    return np.where(ok.sum(axis=0) >= 2, hi - lo, np.nan)
