"""Agreement between estimated and labelled ordinal skin types (Fitzpatrick 1-6, Monk 1-10, ...).

``label_agreement`` reports exact agreement, agreement within one type, linear-weighted Cohen's
kappa, the confusion matrix and the same per labelled type. An estimate of ``unknown`` counts as a
miss in exact and within-one agreement (the estimator declined to answer); kappa is computed over
the images where both are known, and says over how many. Images without a label (missing, -1,
empty) are left out and counted.
"""
from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import pandas as pd

__all__ = ["label_agreement", "parse_types"]

_ROMAN = {"I": 1, "II": 2, "III": 3, "IV": 4, "V": 5, "VI": 6, "VII": 7, "VIII": 8, "IX": 9, "X": 10}


def _parse_one(v) -> int | None:
    if v is None or v is pd.NA:
        return None
    if isinstance(v, (bool, np.bool_)):
        raise TypeError(f"skin type must be a number or roman numeral, got {v!r}")
    if isinstance(v, (int, np.integer)):
        return int(v) if int(v) > 0 else None
    if isinstance(v, (float, np.floating)):
        if math.isnan(v) or v <= 0:
            return None
        if float(v).is_integer():
            return int(v)
        raise ValueError(f"skin type must be a whole number, got {v!r}")
    s = str(v).strip()
    if s == "" or s.lower() in {"unknown", "nan", "none", "na", "<na>", "-1"}:
        return None
    if s.upper() in _ROMAN:
        return _ROMAN[s.upper()]
    try:
        f = float(s)
    except ValueError:
        raise ValueError(f"skin type must be a number or roman numeral, got {v!r}") from None
    return _parse_one(f)


def parse_types(values: Sequence) -> np.ndarray:
    """Ordinal types as a float array: 1, 2, ... for known values, NaN for unknown/missing.

    Accepts ints, whole floats, numeric strings and roman numerals ("I".."X"); ``None``, NaN,
    ``pd.NA``, "", "unknown" and values <= 0 (e.g. -1 for "no annotation") are missing.
    """
    out = np.full(len(values), np.nan)
    for i, v in enumerate(values):
        t = _parse_one(v)
        if t is not None:
            out[i] = t
    return out


def _kappa_linear(est: np.ndarray, lab: np.ndarray, cats: list[int]) -> float | None:
    k = len(cats)
    if est.size == 0 or k < 2:
        return None
    pos = {c: i for i, c in enumerate(cats)}
    cm = np.zeros((k, k))
    for e, l in zip(est.astype(int), lab.astype(int)):
        cm[pos[l], pos[e]] += 1
    n = cm.sum()
    idx = np.arange(k)
    w = np.abs(idx[:, None] - idx[None, :]) / (k - 1)
    expected = np.outer(cm.sum(1), cm.sum(0)) / n
    denom = (w * expected).sum()
    if denom <= 0:
        return None
    return float(1.0 - (w * cm).sum() / denom)


def _rate(hits: np.ndarray) -> float | None:
    return float(hits.mean()) if hits.size else None


def label_agreement(estimated: Sequence, labels: Sequence) -> dict:
    """Agreement of estimated skin types with labelled ones.

    Parameters
    ----------
    estimated : per-image estimate (e.g. ``fitzpatrick_est``: 1-6, or NA / "unknown").
    labels : per-image label (e.g. a ``fitzpatrick`` manifest column; -1 / NA = no label).

    Returns
    -------
    dict (JSON-ready) with ``n`` (images with a label), ``n_unlabelled``, ``n_unknown``
    (labelled images whose estimate is unknown), ``exact``, ``within_1`` (unknown counts as a
    miss), ``kappa_linear`` with ``n_kappa`` (both known), ``categories``, ``confusion``
    (``rows``: label types, ``cols``: estimated types then "unknown", ``counts``), and
    ``per_type``: label type (as a string) -> ``{n, exact, within_1, n_unknown}``. Rates are
    ``None`` with a ``reason`` when there is nothing to compare.
    """
    if len(estimated) != len(labels):
        raise ValueError(f"estimated and labels differ in length: {len(estimated)} != {len(labels)}")
    est = parse_types(list(estimated))
    lab = parse_types(list(labels))
    has_label = ~np.isnan(lab)
    est, lab = est[has_label], lab[has_label]
    known = ~np.isnan(est)
    n = int(has_label.sum())
    cats = sorted({int(v) for v in lab} | {int(v) for v in est[known]})
    exact_hits = known & (est == lab)
    within_hits = known & (np.abs(np.nan_to_num(est, nan=-99.0) - lab) <= 1)

    counts = [[int(((lab == r) & (est == c)).sum()) for c in cats] + [int(((lab == r) & ~known).sum())]
              for r in cats]
    per_type = {}
    for t in sorted({int(v) for v in lab}):
        sel = lab == t
        per_type[str(t)] = {
            "n": int(sel.sum()),
            "exact": _rate(exact_hits[sel]),
            "within_1": _rate(within_hits[sel]),
            "n_unknown": int((sel & ~known).sum()),
        }
    result = {
        "n": n,
        "n_unlabelled": int((~has_label).sum()),
        "n_unknown": int((~known).sum()),
        "exact": _rate(exact_hits),
        "within_1": _rate(within_hits),
        "kappa_linear": _kappa_linear(est[known], lab[known], cats),
        "n_kappa": int(known.sum()),
        "categories": cats,
        "confusion": {"rows": [str(c) for c in cats], "cols": [str(c) for c in cats] + ["unknown"],
                      "counts": counts},
        "per_type": per_type,
    }
    if n == 0:
        result["reason"] = "no image has a label"
    elif result["kappa_linear"] is None:
        result["kappa_reason"] = "kappa needs at least two types and one image with both known"
    return result
