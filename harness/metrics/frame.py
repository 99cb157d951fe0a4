"""Point estimates through fairlearn's ``MetricFrame`` (per group and overall).

The headline clean numbers of every grouping come from here: scikit-learn's and fairlearn's own
metric functions, split by group by ``MetricFrame``. The vectorised replicate engine computes the
same numbers (and their intervals) for every variant; the tests hold the two to 1e-9.

Undefined values follow ``rates.METRIC_INFO`` and come back as NaN (scikit-learn's
``zero_division=np.nan``; AUC NaN when a cell has one class).
"""
from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
from fairlearn.metrics import MetricFrame, true_negative_rate, true_positive_rate
from sklearn import config_context
from sklearn import metrics as skm

from .rates import ECE_BINS, METRICS, ece_bin_index


def _nan_if_empty(fn):
    def wrapped(y_true, y_pred, **kw):
        if len(y_true) == 0:
            return np.nan
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return float(fn(np.asarray(y_true), np.asarray(y_pred), **kw))
    return wrapped


def _rate(fn, cls):
    """TPR/TNR, NaN when the cell has no image of ``cls``."""
    def wrapped(y_true, y_pred):
        y_true = np.asarray(y_true)
        if not (y_true == cls).any():
            return np.nan
        return float(fn(y_true, np.asarray(y_pred), pos_label=1))
    return wrapped


def _balanced_accuracy(y_true, y_pred):
    y_true = np.asarray(y_true)
    if y_true.min(initial=1) == y_true.max(initial=0):   # one class (or none): undefined
        return np.nan
    return float(skm.balanced_accuracy_score(y_true, y_pred))


def _f1(label):
    def wrapped(y_true, y_pred):
        y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
        if not ((y_true == label).any() or (y_pred == label).any()):
            return np.nan
        return float(skm.f1_score(y_true, y_pred, pos_label=label, zero_division=np.nan,
                                  labels=[0, 1], average="binary"))
    return wrapped


def _macro_f1(y_true, y_pred):
    return (_f1(1)(y_true, y_pred) + _f1(0)(y_true, y_pred)) / 2


def _auc(y_true, y_pred, score):
    y_true = np.asarray(y_true)
    if y_true.min(initial=1) == y_true.max(initial=0):
        return np.nan
    return float(skm.roc_auc_score(y_true, np.asarray(score)))


def _brier(y_true, y_pred, score):
    if len(y_true) == 0:
        return np.nan
    return float(skm.brier_score_loss(np.asarray(y_true), np.asarray(score), pos_label=1))


def _ece(y_true, y_pred, score, bins=ECE_BINS):
    y = np.asarray(y_true, dtype=np.float64)
    s = np.asarray(score, dtype=np.float64)
    if y.size == 0:
        return np.nan
    b = ece_bin_index(s, bins)
    return float(sum(abs((s[b == k] - y[b == k]).sum()) for k in range(bins)) / y.size)


def _metric_functions() -> dict:
    return {
        "accuracy": _nan_if_empty(skm.accuracy_score),
        "balanced_accuracy": _balanced_accuracy,
        "sensitivity": _rate(true_positive_rate, 1),
        "specificity": _rate(true_negative_rate, 0),
        "precision": _nan_if_empty(lambda t, p: skm.precision_score(t, p, zero_division=np.nan)),
        "npv": _nan_if_empty(lambda t, p: skm.precision_score(t, p, pos_label=0,
                                                              zero_division=np.nan)),
        "f1": _f1(1),
        "f1_negative": _f1(0),
        "macro_f1": _macro_f1,
        "roc_auc": _auc,
        "brier": _brier,
        "ece": _ece,
    }


def metric_frame(*, y_true: np.ndarray, p: np.ndarray, groups: np.ndarray,
                 threshold: float) -> MetricFrame:
    """A ``MetricFrame`` of every metric in ``rates.METRICS`` for one variant's probabilities.

    Parameters
    ----------
    y_true : (N,) 0/1. p : (N,) probabilities. groups : (N,) group labels.
    threshold : predicted positive when ``p >= threshold``.
    """
    y = np.asarray(y_true).astype(np.int64)
    p = np.asarray(p, dtype=np.float64)
    pred = (p >= threshold).astype(np.int64)
    score_params = {"score": p}
    # Inputs are validated once by the caller; skip scikit-learn's per-call re-validation.
    with config_context(skip_parameter_validation=True, assume_finite=True):
        return MetricFrame(
            metrics=_metric_functions(),
            y_true=y,
            y_pred=pred,
            sensitive_features=pd.Series(np.asarray(groups).astype(str), name="group"),
            sample_params={"roc_auc": score_params, "brier": score_params, "ece": score_params},
        )


def frame_values(mf: MetricFrame) -> tuple[dict[str, float], dict[str, dict[str, float]]]:
    """(overall {metric: value}, {group: {metric: value}}) as plain floats (NaN kept)."""
    overall = {m: float(mf.overall[m]) for m in METRICS}
    by_group = mf.by_group
    return overall, {str(g): {m: float(by_group.loc[g, m]) for m in METRICS}
                     for g in by_group.index}
