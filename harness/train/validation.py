"""Validation of a training run and the decision threshold, all on the training images.

A ``test/`` folder beside ``train/`` is never opened. The decision threshold is chosen by
macro-F1 over the original sweep 0.05, 0.10, ..., 0.95 on **out-of-fold** predictions: stratified
k-fold cross-validation (``folds``, seeded) in which each fold's model is trained by the same
recipe on the other folds (:func:`cross_validate`). The sidecar's ``validation`` holds the
threshold and, at it, the out-of-fold ROC AUC, accuracy, macro-F1, sensitivity and specificity
with their n (:func:`decision_metrics`). Those threshold-dependent numbers are scored on the
predictions that chose the threshold, so they are a little optimistic; ``at_fold_thresholds``
scores each fold at the threshold chosen on the other folds instead
(:func:`fold_threshold_metrics`), the number to quote.

These are the training's own decision metrics (plain numpy on one set of predictions); the
audit's metrics, with weights, bootstrap replicates and undefined-value rules, are
:mod:`harness.metrics`.
"""
from __future__ import annotations

from typing import Callable, Sequence

import numpy as np

__all__ = [
    "THRESHOLDS",
    "choose_threshold",
    "cross_validate",
    "decision_metrics",
    "fold_threshold_metrics",
    "macro_f1",
    "roc_auc",
    "stratified_folds",
    "stratified_split",
]

#: The original study's threshold sweep.
THRESHOLDS = tuple(round(0.05 * i, 2) for i in range(1, 20))
THRESHOLD_RULE = "macro-F1 over 0.05..0.95 step 0.05"

Splits = Sequence[tuple[np.ndarray, np.ndarray]]


# --- folds and splits ------------------------------------------------------------------------


def stratified_folds(y: np.ndarray, *, k: int, seed: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """``k`` seeded, shuffled, stratified (train, held-out) index pairs over ``y``."""
    from sklearn.model_selection import StratifiedKFold

    skf = StratifiedKFold(n_splits=k, shuffle=True, random_state=seed)
    return [(tr, te) for tr, te in skf.split(np.zeros(len(y)), y)]


def stratified_split(idx: np.ndarray, y: np.ndarray, *, fraction: float,
                     seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Split ``idx`` into sorted (fit, validation) with ``fraction`` of each class in validation."""
    from sklearn.model_selection import train_test_split

    fit, val = train_test_split(idx, test_size=fraction, stratify=y[idx], random_state=seed)
    return np.sort(fit), np.sort(val)


# --- metrics of one set of predictions --------------------------------------------------------


def macro_f1(y: np.ndarray, pred: np.ndarray) -> float:
    """Macro-F1 over the two classes (an empty class's F1 counts as 0, as scikit-learn does)."""
    out = []
    for cls in (0, 1):
        tp = float(np.sum((pred == cls) & (y == cls)))
        fp = float(np.sum((pred == cls) & (y != cls)))
        fn = float(np.sum((pred != cls) & (y == cls)))
        out.append(0.0 if tp == 0 else 2 * tp / (2 * tp + fp + fn))
    return float(np.mean(out))


def roc_auc(y: np.ndarray, p: np.ndarray) -> float | None:
    """scikit-learn's ROC AUC; None when ``y`` holds one class only (undefined)."""
    from sklearn.metrics import roc_auc_score

    if len(np.unique(y)) < 2:
        return None
    return float(roc_auc_score(y, p))


def _decision_scores(y: np.ndarray, pred: np.ndarray) -> dict:
    """Accuracy, macro-F1, sensitivity and specificity of 0/1 decisions (None: no such class)."""
    pos, neg = y == 1, y == 0
    return {
        "accuracy": float(np.mean(pred == y)),
        "macro_f1": macro_f1(y, pred),
        "sensitivity": float(np.mean(pred[pos] == 1)) if pos.any() else None,
        "specificity": float(np.mean(pred[neg] == 0)) if neg.any() else None,
    }


def decision_metrics(y: np.ndarray, p: np.ndarray, *, threshold: float) -> dict:
    """ROC AUC, accuracy, macro-F1, sensitivity and specificity at ``threshold``, with n.

    Parameters
    ----------
    y : np.ndarray
        0/1 labels.
    p : np.ndarray
        P(positive) per image; ``p >= threshold`` is a positive decision.
    threshold : float
        The decision threshold.

    Returns
    -------
    dict
        ``{"n", "n_positive", "n_negative", "auc", "accuracy", "macro_f1", "sensitivity",
        "specificity"}``; ``auc`` is None with one class, sensitivity (specificity) None
        without positives (negatives).
    """
    y = np.asarray(y).astype(int)
    pred = (np.asarray(p) >= threshold).astype(int)
    return {"n": int(len(y)), "n_positive": int(np.sum(y == 1)),
            "n_negative": int(np.sum(y == 0)), "auc": roc_auc(y, p), **_decision_scores(y, pred)}


# --- the threshold ---------------------------------------------------------------------------


def choose_threshold(y: np.ndarray, p: np.ndarray,
                     thresholds: Sequence[float] = THRESHOLDS) -> tuple[float, list[dict]]:
    """The threshold of the sweep with the highest macro-F1 (``p >= t`` is positive).

    Ties go to the threshold closest to 0.5, then the lower one. Returns the threshold and the
    sweep as ``[{"threshold": t, "macro_f1": f}, ...]``.
    """
    y = np.asarray(y).astype(int)
    p = np.asarray(p, dtype=np.float64)
    sweep = [{"threshold": float(t), "macro_f1": macro_f1(y, (p >= t).astype(int))}
             for t in thresholds]
    best = max(sweep, key=lambda r: (round(r["macro_f1"], 12), -abs(r["threshold"] - 0.5),
                                     -r["threshold"]))
    return best["threshold"], sweep


def fold_threshold_metrics(y: np.ndarray, oof: np.ndarray, splits: Splits) -> dict:
    """Threshold-dependent metrics with no threshold chosen on the images it scores.

    The threshold chosen on all out-of-fold predictions is, for the metrics at it, chosen on the
    very predictions it is scored on (an optimistic number). Here each fold's held-out images are
    scored at the threshold chosen (:func:`choose_threshold`) on the other folds' out-of-fold
    predictions. Returns ``{"rule", "thresholds", "accuracy", "macro_f1", "sensitivity",
    "specificity"}``.
    """
    y = np.asarray(y).astype(int)
    oof = np.asarray(oof, dtype=np.float64)
    pred = np.zeros(len(y), dtype=int)
    thresholds = []
    for tr, te in splits:
        t, _ = choose_threshold(y[tr], oof[tr])
        thresholds.append(float(t))
        pred[te] = (oof[te] >= t).astype(int)
    return {"rule": "each fold scored at the threshold chosen on the other folds' out-of-fold "
                    "predictions",
            "thresholds": thresholds, **_decision_scores(y, pred)}


# --- cross-validation ------------------------------------------------------------------------

#: ``fit(train_idx, desc) -> (predict(other_idx) -> p, info)``: one model of the recipe.
FitFold = Callable[[np.ndarray, str], tuple[Callable[[np.ndarray], np.ndarray], dict]]


def out_of_fold(fit: FitFold, *, y: np.ndarray, splits: Splits,
                desc: str) -> tuple[np.ndarray, list[dict]]:
    """Predictions of every image by the fold model trained without it, and each fold's info.

    Each fold's info is ``fit``'s with ``n_train``, ``n_held_out`` and the held-out ``auc``.
    """
    oof = np.zeros(len(y), np.float64)
    per_fold = []
    for i, (tr, te) in enumerate(splits, start=1):
        predict, info = fit(tr, f"{desc}: fold {i}/{len(splits)}")
        oof[te] = predict(te)
        per_fold.append(dict(info, n_train=int(len(tr)), n_held_out=int(len(te)),
                             auc=roc_auc(y[te], oof[te])))
    return oof, per_fold


def cross_validate(fit: FitFold, *, y: np.ndarray, folds: int, seed: int, desc: str) -> dict:
    """Stratified ``folds``-fold cross-validation: the sidecar's ``validation``.

    Returns ``{"method", "folds", "threshold", "threshold_rule", <decision_metrics at the
    threshold>, "at_fold_thresholds", "sweep", "per_fold"}``, in that order.
    """
    splits = stratified_folds(y, k=folds, seed=seed)
    oof, per_fold = out_of_fold(fit, y=y, splits=splits, desc=desc)
    threshold, sweep = choose_threshold(y, oof)
    return dict(
        method=f"stratified {folds}-fold cross-validation, out-of-fold predictions",
        folds=int(folds),
        threshold=float(threshold),
        threshold_rule=THRESHOLD_RULE,
        **decision_metrics(y, oof, threshold=threshold),
        at_fold_thresholds=fold_threshold_metrics(y, oof, splits),
        sweep=sweep,
        per_fold=per_fold,
    )
