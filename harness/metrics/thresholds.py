"""Threshold behaviour per group: curves over a grid, best and target thresholds, and a what-if.

All on the clean images. The decision rule is the model's: positive when ``p >= t``.
"""
from __future__ import annotations

import math

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin

from .entries import as_list, fnum, too_few_groups
from .rates import rates_from_counts

WHAT_IF_LABEL = (
    "What-if: group-specific randomised thresholds from fairlearn ThresholdOptimizer "
    "(equalized odds), fitted and evaluated on these same images. Not the model's behaviour."
)


def threshold_grid(points: int = 101) -> np.ndarray:
    """``points`` evenly spaced thresholds from 0 to 1 inclusive."""
    if points < 2:
        raise ValueError(f"threshold grid needs at least 2 points (got {points!r})")
    return np.array([k / (points - 1) for k in range(points)])


def sweep_counts(y: np.ndarray, p: np.ndarray, thresholds: np.ndarray) -> tuple[np.ndarray, ...]:
    """tp, fp, fn, tn at each threshold (predicted positive when p >= t)."""
    y = np.asarray(y).astype(bool)
    p = np.asarray(p, dtype=np.float64)
    t = np.asarray(thresholds, dtype=np.float64)
    pos = np.sort(p[y])
    neg = np.sort(p[~y])
    tp = pos.size - np.searchsorted(pos, t, side="left")
    fp = neg.size - np.searchsorted(neg, t, side="left")
    return tp, fp, pos.size - tp, neg.size - fp


def threshold_curves(y: np.ndarray, p: np.ndarray, thresholds: np.ndarray) -> dict[str, np.ndarray]:
    """TPR, FPR, precision and macro-F1 at each threshold (NaN where undefined)."""
    tp, fp, fn, tn = sweep_counts(y, p, thresholds)
    r = rates_from_counts(tp, fp, fn, tn)
    return {"tpr": r["sensitivity"], "fpr": 1.0 - r["specificity"], "precision": r["precision"],
            "macro_f1": r["macro_f1"]}


def threshold_for_sensitivity(y: np.ndarray, p: np.ndarray, target: float) -> float | None:
    """The highest threshold whose TPR reaches ``target`` (exact, from the positives' scores)."""
    y = np.asarray(y).astype(bool)
    pos = np.sort(np.asarray(p, dtype=np.float64)[y])[::-1]
    if pos.size == 0:
        return None
    k = max(1, math.ceil(target * pos.size - 1e-9))
    return float(pos[min(k, pos.size) - 1])


def threshold_summary(y: np.ndarray, p: np.ndarray, *, grid: np.ndarray, threshold: float,
                      target_sensitivity: float) -> dict:
    """The TC object of one ok cell (see docs/results-schema.md)."""
    curves = threshold_curves(y, p, grid)
    f1 = curves["macro_f1"]
    best = int(np.nanargmax(f1)) if not np.isnan(f1).all() else None
    t_target = threshold_for_sensitivity(y, p, target_sensitivity)
    at = {k: v[0] for k, v in threshold_curves(y, p, np.array([threshold])).items()}
    target = {"threshold": None, "tpr": None, "fpr": None}
    if t_target is not None:
        c = threshold_curves(y, p, np.array([t_target]))
        target = {"threshold": t_target, "tpr": fnum(c["tpr"][0]), "fpr": fnum(c["fpr"][0])}
    return {
        "tpr": as_list(curves["tpr"]), "fpr": as_list(curves["fpr"]),
        "precision": as_list(curves["precision"]), "macro_f1": as_list(f1),
        "best_macro_f1": {"threshold": None if best is None else float(grid[best]),
                          "macro_f1": None if best is None else fnum(f1[best])},
        "for_target_sensitivity": target,
        "operating": {"threshold": float(threshold), "tpr": fnum(at["tpr"]), "fpr": fnum(at["fpr"]),
                      "precision": fnum(at["precision"]), "macro_f1": fnum(at["macro_f1"])},
    }


class _ScoreAsEstimator(ClassifierMixin, BaseEstimator):
    """A prefit "estimator" whose decision function is the score itself (column 0 of X).

    fairlearn's ThresholdOptimizer post-processes an estimator; the audit only has the model's
    scores, so this identity wrapper hands them over unchanged.
    """

    def fit(self, X, y=None):
        self.classes_ = np.array([0, 1])
        return self

    def decision_function(self, X):
        return np.asarray(X, dtype=np.float64)[:, 0]

    def predict(self, X):
        return (self.decision_function(X) >= 0.5).astype(np.int64)


def _rates(y: np.ndarray, pos_prob: np.ndarray) -> tuple[float, float]:
    """Expected TPR and FPR of a (possibly randomised) rule giving P(positive) per image."""
    return float(pos_prob[y].mean()), float(pos_prob[~y].mean())


def threshold_optimizer_what_if(y: np.ndarray, p: np.ndarray, groups: np.ndarray, *,
                                gap_groups: list[str], threshold: float, seed: int,
                                rule: str | None = None) -> dict:
    """The WHATIF object: equalized-odds post-processing fitted on the ok groups' clean images."""
    base = {"what_if": True, "label": WHAT_IF_LABEL, "constraints": "equalized_odds",
            "objective": "balanced_accuracy_score"}
    if len(gap_groups) < 2:
        return {**base, "status": "skipped",
                "reason": too_few_groups(gap_groups, rule)}
    from fairlearn.postprocessing import ThresholdOptimizer

    y = np.asarray(y).astype(bool)
    groups = np.asarray(groups).astype(str)
    keep = np.isin(groups, gap_groups)
    yk, pk, gk = y[keep], np.asarray(p, dtype=np.float64)[keep], groups[keep]
    X = pk[:, None]
    opt = ThresholdOptimizer(estimator=_ScoreAsEstimator().fit(X), constraints="equalized_odds",
                             objective="balanced_accuracy_score", prefit=True,
                             predict_method="decision_function")
    opt.fit(X, yk.astype(np.int64), sensitive_features=gk)
    try:   # expected P(positive) of the randomised rule: exact rates, no sampling noise
        after = np.asarray(opt._pmf_predict(X, sensitive_features=gk))[:, 1]
        how = "expected rates of the randomised rule"
    except AttributeError:   # pragma: no cover - older/newer fairlearn without the private helper
        after = opt.predict(X, sensitive_features=gk, random_state=seed).astype(np.float64)
        how = f"rates of one seeded draw of the randomised rule (seed {seed})"
    before = (pk >= threshold).astype(np.float64)
    per_group = {}
    for g in gap_groups:
        m = gk == g
        tpr_b, fpr_b = _rates(yk[m], before[m])
        tpr_a, fpr_a = _rates(yk[m], after[m])
        per_group[g] = {"n": int(m.sum()), "tpr_before": tpr_b, "fpr_before": fpr_b,
                        "tpr_after": tpr_a, "fpr_after": fpr_a}

    def eod(when: str) -> float:
        tpr = [v[f"tpr_{when}"] for v in per_group.values()]
        fpr = [v[f"fpr_{when}"] for v in per_group.values()]
        return max(max(tpr) - min(tpr), max(fpr) - min(fpr))

    tpr_b, fpr_b = _rates(yk, before)
    tpr_a, fpr_a = _rates(yk, after)
    return {
        **base, "status": "ok", "reason": None, "rates": how,
        "groups": per_group,
        "overall": {"n": int(keep.sum()),
                    "balanced_accuracy_before": (tpr_b + 1 - fpr_b) / 2,
                    "balanced_accuracy_after": (tpr_a + 1 - fpr_a) / 2},
        "equalized_odds_difference_before": eod("before"),
        "equalized_odds_difference_after": eod("after"),
    }
