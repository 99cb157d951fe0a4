"""K-class metrics as pure functions, vectorised over bootstrap replicates.

Inputs are ``y`` (n,) int class indices in ``0..K-1`` (the true class, in ``class_names`` order),
``P`` (n, K) probabilities and ``weights`` (B, n) non-negative draw counts (``(n,)`` is one
replicate; the point estimate is the replicate of ones). The predicted class is the top class,
``argmax(P, axis=1)`` (the first of tied maxima). Undefined values are ``NaN`` here; the JSON
layer turns them into ``None`` with the catalogue's reason.

Definitions (scikit-learn's where it has one):

- ``confusion``: (B, K, K) weighted counts, rows true, columns predicted;
- per class: recall = tp / support, precision = tp / predicted, F1 = 2tp / (support + predicted),
  one-vs-rest ROC AUC of ``P[:, k]`` (Mann-Whitney, ties 1/2);
- ``balanced_accuracy``: the mean recall over the classes present (``balanced_accuracy_score``);
- ``macro_f1``: the mean F1 over the classes present among the true or the predicted labels
  (``f1_score(average="macro")``); ``weighted_f1``: F1 weighted by support;
- ``top_k_accuracy``: the true class among the k most probable;
- ``roc_auc``: the mean one-vs-rest AUC over the classes that have images of both kinds;
- ``multiclass_brier``: mean over images of ``sum_k (P_ik - [y_i = k])^2`` (0 to 2);
- ``top_label_ece``: equal-width bins of the top probability; ``sum_b (n_b / n) |acc_b - conf_b|``.
"""
from __future__ import annotations

import numpy as np

from harness.models.outputs import top_class_index as top_class

from .catalogue import KCLASS_CELL_METRICS
from .rates import ECE_BINS, ece_bin_index, weighted_auc

#: Per-class metrics of a K-class cell, in the order used everywhere.
CLASS_METRICS: tuple[str, ...] = ("recall", "precision", "f1", "roc_auc")
#: The k of ``top_k_accuracy`` (computed only when K > 3).
TOP_K = 3


def kclass_metric_names(k: int) -> tuple[str, ...]:
    """The cell metrics of a K-class audit with ``k`` classes (top-k accuracy only when k > 3)."""
    return tuple(m for m in KCLASS_CELL_METRICS if k > 3 or m != "top_k_accuracy")


def _div(num, den) -> np.ndarray:
    num = np.asarray(num, dtype=np.float64)
    den = np.asarray(den, dtype=np.float64)
    out = np.full(np.broadcast(num, den).shape, np.nan)
    np.divide(num, den, out=out, where=den != 0)
    return out


def macro_mean(x: np.ndarray, axis: int = -1) -> np.ndarray:
    """The mean over ``axis`` of the defined (non-NaN) values; NaN where none is defined."""
    ok = ~np.isnan(x)
    cnt = ok.sum(axis=axis)
    return _div(np.where(ok, x, 0.0).sum(axis=axis), cnt)


def true_class_probability(y: np.ndarray, P: np.ndarray) -> np.ndarray:
    """(n,) probability each row gives its true class ``y``."""
    P = np.asarray(P, dtype=np.float64)
    return P[np.arange(P.shape[0]), np.asarray(y, dtype=np.intp)]


def kclass_columns(y: np.ndarray, P: np.ndarray, *, top_k: int = TOP_K,
                   ece_bins: int = ECE_BINS) -> np.ndarray:
    """Per-image columns whose weighted sums give every K-class metric except the AUCs.

    Columns: the K*K one-hot confusion cell (``true * K + predicted``), the image's multi-class
    squared error, whether the true class is among the ``top_k`` most probable, then one column per
    ECE bin of the top probability holding ``top probability - correct`` (0 elsewhere).
    """
    y = np.asarray(y, dtype=np.intp)
    P = np.asarray(P, dtype=np.float64)
    n, k = P.shape
    pred = top_class(P)
    cols = np.zeros((n, k * k + 2 + ece_bins))
    rows = np.arange(n)
    cols[rows, y * k + pred] = 1.0
    onehot = np.zeros((n, k))
    onehot[rows, y] = 1.0
    cols[:, k * k] = ((P - onehot) ** 2).sum(axis=1)
    kk = min(top_k, k)
    rank = (P > P[rows, y][:, None]).sum(axis=1)        # classes strictly more probable
    cols[:, k * k + 1] = rank < kk
    conf = P[rows, pred]
    cols[rows, k * k + 2 + ece_bin_index(conf, ece_bins)] = conf - (pred == y)
    return cols


def kclass_from_sums(sums: np.ndarray, *, k: int, ece_bins: int = ECE_BINS) -> dict[str, np.ndarray]:
    """Metrics from weighted sums of :func:`kclass_columns` (shape (..., K*K + 2 + bins)).

    Returns
    -------
    dict: every name of :func:`kclass_metric_names` except ``roc_auc`` (``top_k_accuracy`` always),
    ``"confusion"`` (..., K, K), and per class ``"recall"``, ``"precision"``, ``"f1"``,
    ``"support"``, ``"predicted"`` (..., K).
    """
    conf = sums[..., :k * k].reshape(*sums.shape[:-1], k, k)
    n = conf.sum(axis=(-1, -2))
    tp = np.diagonal(conf, axis1=-2, axis2=-1)
    support = conf.sum(axis=-1)
    predicted = conf.sum(axis=-2)
    recall = _div(tp, support)
    precision = _div(tp, predicted)
    f1 = _div(2 * tp, support + predicted)
    weighted = _div((np.nan_to_num(f1) * support).sum(axis=-1), n)
    return {
        "confusion": conf,
        "support": support,
        "predicted": predicted,
        "recall": recall,
        "precision": precision,
        "f1": f1,
        "accuracy": _div(tp.sum(axis=-1), n),
        "balanced_accuracy": macro_mean(recall),
        "macro_f1": macro_mean(f1),
        "weighted_f1": np.where(n > 0, weighted, np.nan),
        "top_k_accuracy": _div(sums[..., k * k + 1], n),
        "multiclass_brier": _div(sums[..., k * k], n),
        "top_label_ece": _div(np.abs(sums[..., k * k + 2:k * k + 2 + ece_bins]).sum(axis=-1), n),
    }


def class_aucs(y: np.ndarray, P: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """(B, K) one-vs-rest ROC AUC of each class for every row of ``weights`` (NaN where a class
    has no image, or every image is of it)."""
    y = np.asarray(y, dtype=np.intp)
    P = np.asarray(P, dtype=np.float64)
    w = np.atleast_2d(np.asarray(weights, dtype=np.float64))
    return np.stack([weighted_auc(y == c, P[:, c], w) for c in range(P.shape[1])], axis=1)


def kclass_metrics(y: np.ndarray, P: np.ndarray, *, weights: np.ndarray | None = None,
                   top_k: int = TOP_K, ece_bins: int = ECE_BINS) -> dict[str, np.ndarray]:
    """Every K-class metric of one cell, for every replicate of ``weights``.

    Parameters
    ----------
    y : (n,) int true class indices. P : (n, K) probabilities.
    weights : (B, n) draw counts; None = one replicate of ones (the point estimate).
    top_k : the k of ``top_k_accuracy``. ece_bins : bins of the top-label ECE.

    Returns
    -------
    dict of (B,) arrays (the cell metrics, ``roc_auc`` the macro one-vs-rest AUC), ``"confusion"``
    (B, K, K), and per class (B, K): ``recall``, ``precision``, ``f1``, ``class_roc_auc``,
    ``support``, ``predicted``.
    """
    y = np.asarray(y, dtype=np.intp)
    P = np.asarray(P, dtype=np.float64)
    if P.ndim != 2 or y.shape != (P.shape[0],):
        raise ValueError(f"y must be (n,) and P (n, K) (got {y.shape} and {P.shape})")
    w = np.ones((1, y.size)) if weights is None else np.atleast_2d(np.asarray(weights, np.float64))
    k = P.shape[1]
    out = kclass_from_sums(w @ kclass_columns(y, P, top_k=top_k, ece_bins=ece_bins), k=k,
                           ece_bins=ece_bins)
    aucs = class_aucs(y, P, w)
    out["class_roc_auc"] = aucs
    out["roc_auc"] = macro_mean(aucs)
    return out


def kclass_flip_columns(y: np.ndarray, P_clean: np.ndarray, P_variant: np.ndarray) -> np.ndarray:
    """(n, 4) per-image columns: top class changed, right->wrong, wrong->right, and
    |p_variant - p_clean| of the true class."""
    y = np.asarray(y, dtype=np.intp)
    pc, pv = top_class(P_clean), top_class(P_variant)
    right_c, right_v = pc == y, pv == y
    dp = np.abs(true_class_probability(y, P_variant) - true_class_probability(y, P_clean))
    return np.stack([pc != pv, right_c & ~right_v, ~right_c & right_v, dp],
                    axis=1).astype(np.float64)
