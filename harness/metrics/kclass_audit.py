"""``kclass_audit_metrics``: the "metrics" section of a K-class audit (K > 2 classes and no
positive class; the prediction is the top class).

The same paths as a binary audit (``groupings.<grouping>.variants.<variant>.{overall,
groups.<g>, gaps}``, ``robustness``, ``severity_curves``, ``corruption_error``); a cell holds a
K×K ``confusion_matrix`` (rows true, columns predicted, in ``class_names`` order), the K-class
metrics of the catalogue with n and interval, and ``classes.<name>`` with recall, precision, F1
and one-vs-rest AUC. Intervals are percentile bootstrap over one resample matrix per grouping,
stratified by group × true class; proportions follow the Wilson rule. A cell with fewer than
``min_n`` images or fewer than ``min_per_class`` of some class is too small to judge (its numbers
are given with the mark); a class with fewer than ``min_per_class`` images in a cell is marked so
on its own. Schema in docs/results-schema.md ("K-class audits").
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from harness.results.variants import families_of
from ..errors import UserError
from .audit_inputs import MISSING_GROUP, check_options, clean_groupings, ordered_groups
from .bootstrap import percentile_interval, resample_blocks
from .catalogue import CATALOGUE, CLASS_METRICS
from .entries import (WILSON_RULE, by_cell, metric_entry, small_group_rule, too_few_of_class,
                      too_few_of_each)
from .gaps import gaps_by_variant
from .multiclass import (TOP_K, class_aucs, kclass_columns, kclass_flip_columns, kclass_from_sums,
                         kclass_metric_names, macro_mean)
from .rates import ECE_BINS
from .replicates import FLIP_STATS, Replicates, cell_blocks, variant_sums
from .robustness import (DROP_METRICS, corruption_error, mean_flip_rate, robustness_by_variant,
                         severity_curves)

SCHEMA_ID = "dermatrace.metrics/1"
AUDIT = "kclass"
#: Keys of ``classes.<name>`` (per-class metrics), in catalogue order.
CLASS_KEYS: tuple[str, ...] = tuple(CLASS_METRICS.values())
#: Per-class metrics whose clean − variant drop robustness gives (``class_drop``).
CLASS_DROP_KEYS: tuple[str, ...] = ("recall",)


def kclass_audit_metrics(*, y_true: np.ndarray, probs: Mapping[str, np.ndarray],
                         class_names: Sequence[str], groups: Mapping[str, np.ndarray],
                         n_boot: int = 1000, seed: int = 0, min_n: int = 30,
                         min_per_class: int = 10, reference: dict | None = None,
                         ci_level: float = 0.95,
                         group_order: Mapping[str, Sequence[str]] | None = None,
                         gap_exclude: Sequence[str] = (MISSING_GROUP,),
                         top_k: int = TOP_K) -> dict:
    """Fairness and robustness metrics of a K-class audit, JSON-ready.

    Parameters
    ----------
    y_true : (N,) true class of each image: class names, or indices into ``class_names``.
    probs : variant name -> (N, K) probabilities in ``class_names`` order; must hold ``"clean"``.
    class_names : the K class names, in the model's output order.
    groups : grouping name -> (N,) group label per image (as for ``audit_metrics``).
    n_boot, seed, min_n, min_per_class, reference, ci_level, group_order, gap_exclude : as for
        ``audit_metrics``; ``min_per_class`` counts the images of each class.
    top_k : the k of ``top_k_accuracy`` (given when K > 3).

    Returns
    -------
    dict: the "metrics" section (plain Python; undefined values None with a reason).
    """
    names = [str(c) for c in class_names]
    if len(names) < 2 or len(set(names)) != len(names):
        raise ValueError(f"class_names must be 2 or more distinct names (got {names!r})")
    y = _class_indices(y_true, names)
    P, variants = _check_probs(probs, n=y.size, k=len(names))
    check_options(n_boot=n_boot, min_n=min_n, min_per_class=min_per_class, ci_level=ci_level)
    if not isinstance(top_k, int) or top_k < 1:
        raise ValueError(f"top_k must be an integer >= 1 (got {top_k!r})")
    metric_names = kclass_metric_names(len(names))
    axis = metric_names + tuple(f"{key}:{c}" for key in CLASS_KEYS for c in names)
    order = dict(group_order or {})
    out = {
        "schema": SCHEMA_ID,
        "audit": AUDIT,
        "class_names": names,
        "settings": _settings(names=names, metric_names=metric_names, n_boot=n_boot, seed=seed,
                              ci_level=ci_level, min_n=min_n, min_per_class=min_per_class,
                              top_k=top_k, gap_exclude=gap_exclude),
        "variants": variants,
        "families": families_of(variants),
        "groupings": {},
    }
    for name, labels in clean_groupings(groups, y.size).items():
        out["groupings"][name] = _grouping(
            name, labels, y=y, P=P, names=names, variants=variants, axis=axis,
            metric_names=metric_names, n_boot=n_boot, seed=seed, min_n=min_n,
            min_per_class=min_per_class, level=ci_level, order=order.get(name),
            gap_exclude=set(gap_exclude), top_k=top_k, reference=reference)
    return out


def _grouping(name, labels, *, y, P, names, variants, axis, metric_names, n_boot, seed, min_n,
              min_per_class, level, order, gap_exclude, top_k, reference) -> dict:
    k = len(names)
    group_names = ordered_groups(labels, order)
    cells = ["overall"] + group_names
    members = [np.arange(y.size)] + [np.flatnonzero(labels == g) for g in group_names]
    counts = [np.bincount(y[m], minlength=k) for m in members]
    insufficient = [too_few_of_each(n=int(m.size), counts=dict(zip(names, c.tolist())),
                                    min_n=min_n, min_per_class=min_per_class)
                    for m, c in zip(members, counts)]
    gap_groups = [g for g, r in zip(group_names, insufficient[1:])
                  if r is None and g not in gap_exclude]
    weights = resample_blocks(labels, y, n_boot=n_boot, seed=seed)
    rep, confusion = kclass_replicates(y=y, P=P, variants=variants, cells=cells, members=members,
                                       weights=weights, axis=axis, k=k, top_k=top_k)
    cell_json = _cells_json(rep, confusion, insufficient, names=names, metric_names=metric_names,
                            level=level, n_boot=n_boot, min_per_class=min_per_class)
    rule = small_group_rule(min_n, min_per_class)
    gaps = gaps_by_variant(rep, gap_groups=gap_groups, level=level, n_boot=n_boot, rule=rule)
    per_variant = {v: {**by_cell(cells, cell_json[i]), "gaps": _split_gaps(gaps[v])}
                   for i, v in enumerate(variants)}
    drops = DROP_METRICS + tuple(f"{key}:{c}" for key in CLASS_DROP_KEYS for c in names)
    robust = robustness_by_variant(rep, insufficient=insufficient, level=level, n_boot=n_boot,
                                   drop_metrics=drops)
    status = {g: {"status": "insufficient" if r else "ok", "reason": r, "n": int(m.size),
                  "class_counts": dict(zip(names, c.tolist()))}
              for g, m, c, r in zip(group_names, members[1:], counts[1:], insufficient[1:])}
    return {
        "groups": group_names,
        "group_order": "given" if order else "sorted",
        "status": status,
        "gap_groups": gap_groups,
        "variants": per_variant,
        "robustness": {v: _split_drops(r) for v, r in robust.items()},
        "severity_curves": severity_curves(rep, insufficient=insufficient, level=level,
                                           n_boot=n_boot),
        "corruption_error": corruption_error(rep, insufficient=insufficient, grouping=name,
                                             reference=reference),
        "mean_flip_rate": mean_flip_rate(rep, insufficient=insufficient, grouping=name,
                                         reference=reference),
    }


def kclass_replicates(*, y: np.ndarray, P: np.ndarray, variants: list[str], cells: list[str],
                      members: list[np.ndarray], weights, axis: tuple[str, ...],
                      k: int, top_k: int = TOP_K,
                      ece_bins: int = ECE_BINS) -> tuple[Replicates, np.ndarray]:
    """Every K-class metric of every cell and variant for every replicate of ``weights``.

    Parameters
    ----------
    y : (N,) class indices. P : (V, N, K) probabilities, variant 0 = clean.
    weights : the (B+1, N) weight matrix, row 0 all ones: a ``bootstrap.WeightBlocks`` or an
        array, read ``ROW_BLOCK`` rows at a time (as ``compute_replicates``).
    axis : the metric axis (cell metrics, then ``"<key>:<class>"`` for every per-class key and
        class).

    Returns
    -------
    (Replicates with ``metric_names=axis``, (V, C, K, K) point confusion matrices).
    """
    V, C, R = P.shape[0], len(cells), weights.shape[0]
    n_cell = sum(1 for a in axis if ":" not in a)
    ncol = k * k + 2 + ece_bins
    n_flip = len(FLIP_STATS)
    width = ncol + n_flip
    values = np.empty((V, C, len(axis), R))
    flips = np.zeros((V, C, n_flip, R))
    flip_counts = np.zeros((V, C, 3))
    confusion = np.zeros((V, C, k, k))
    for start, rows, c, idx, wc in cell_blocks(weights, members, y.size):
        yc = y[idx]

        def columns(v, yc=yc, idx=idx):
            cols = np.zeros((idx.size, width))
            cols[:, :ncol] = kclass_columns(yc, P[v, idx], top_k=top_k, ece_bins=ece_bins)
            if v:
                cols[:, ncol:] = kclass_flip_columns(yc, P[0, idx], P[v, idx])
            return cols

        sums = variant_sums(wc, columns, n_variants=V, width=width)
        n_w = sums[:, 0, :k * k].sum(axis=1)
        with np.errstate(invalid="ignore", divide="ignore"):
            for v in range(V):
                m = kclass_from_sums(sums[:, v, :ncol], k=k, ece_bins=ece_bins)
                aucs = class_aucs(yc, P[v, idx], wc)              # (rows, K)
                m["roc_auc"] = macro_mean(aucs)
                values[v, c, :n_cell, rows] = np.stack([m[a] for a in axis[:n_cell]])
                for j, key in enumerate(CLASS_KEYS):
                    per_class = aucs if key == "roc_auc" else m[key]  # (rows, K)
                    values[v, c, n_cell + j * k:n_cell + (j + 1) * k, rows] = per_class.T
                if v:
                    flips[v, c, :, rows] = (sums[:, v, ncol:] / n_w[:, None]).T
                if start == 0:
                    confusion[v, c] = m["confusion"][0]
                    if v:
                        flip_counts[v, c] = sums[0, v, ncol:ncol + 3]
    rep = Replicates(cells=cells, members=members, variants=variants, values=values, flips=flips,
                     counts=np.zeros((V, C, 4)), flip_counts=flip_counts, metric_names=axis)
    return rep, confusion


def _cells_json(rep: Replicates, confusion: np.ndarray, insufficient, *, names, metric_names,
                level, n_boot, min_per_class) -> list[list[dict]]:
    """[variant][cell] -> CELL (K-class): counts, confusion matrix, metrics, classes."""
    k = len(names)
    n_cell = len(metric_names)
    lo, hi, n_undef = percentile_interval(rep.values[..., 1:], level=level, axis=-1)
    out = []
    for v in range(len(rep.variants)):
        row = []
        for c in range(len(rep.cells)):
            conf = np.rint(confusion[v, c]).astype(np.int64)
            support, predicted, tp = conf.sum(axis=1), conf.sum(axis=0), np.diag(conf)
            n = int(conf.sum())

            def entry(i, den, why, successes=None):
                return metric_entry(value=rep.values[v, c, i, 0], n=int(den), lo=lo[v, c, i],
                                    hi=hi[v, c, i], n_undef=int(n_undef[v, c, i]),
                                    n_boot=n_boot, undefined_reason=why, successes=successes,
                                    level=level)

            metrics = {}
            for i, m in enumerate(metric_names):
                successes = None
                if m == "accuracy":
                    successes = int(tp.sum())
                elif m == "top_k_accuracy":
                    successes = int(round(float(rep.values[v, c, i, 0]) * n))
                metrics[m] = entry(i, n, CATALOGUE[m].reason(AUDIT), successes)
            classes = {}
            for ci, cname in enumerate(names):
                why = too_few_of_class(name=cname, count=int(support[ci]),
                                       min_per_class=min_per_class)
                item = {"status": "insufficient" if why else "ok", "reason": why,
                        "support": int(support[ci]), "predicted": int(predicted[ci])}
                for j, key in enumerate(CLASS_KEYS):
                    rec = CATALOGUE[f"class_{key}"]
                    den = {"support": support[ci], "predicted": predicted[ci]}.get(
                        rec.denominator, n)
                    succ = int(tp[ci]) if rec.kind == "rate" else None
                    item[key] = entry(n_cell + j * k + ci, den, rec.undefined_reason, succ)
                classes[cname] = item
            row.append({"status": "insufficient" if insufficient[c] else "ok",
                        "reason": insufficient[c], "n": n,
                        "class_counts": dict(zip(names, support.tolist())),
                        "predicted_counts": dict(zip(names, predicted.tolist())),
                        "confusion_matrix": conf.tolist(), "metrics": metrics,
                        "classes": classes})
        out.append(row)
    return out


def _split_gaps(g: dict) -> dict:
    """The GAPS object with the per-class entries (``"recall:benign"``) moved to
    ``classes.<name>.<key>``."""
    metrics, classes = {}, {}
    for name, entry in g.get("metrics", {}).items():
        if ":" in name:
            key, cname = name.split(":", 1)
            classes.setdefault(cname, {})[key] = entry
        else:
            metrics[name] = entry
    return {**g, "metrics": metrics, "classes": classes}


def _split_drops(rob: dict) -> dict:
    """Robustness cells with the per-class drops moved to ``class_drop.<name>.<key>``."""
    def split(cell: dict) -> dict:
        drop, per_class = {}, {}
        for name, entry in cell["drop"].items():
            if ":" in name:
                key, cname = name.split(":", 1)
                per_class.setdefault(cname, {})[key] = entry
            else:
                drop[name] = entry
        return {**cell, "drop": drop, "class_drop": per_class}
    return {"overall": split(rob["overall"]),
            "groups": {g: split(c) for g, c in rob["groups"].items()}}


def _settings(*, names, metric_names, n_boot, seed, ci_level, min_n, min_per_class, top_k,
              gap_exclude) -> dict:
    out = {
        "audit": AUDIT,
        "class_names": list(names),
        "decision_rule": "the top class: the class of the largest probability (the first of ties)",
        "n_boot": int(n_boot), "seed": int(seed), "ci_level": float(ci_level),
        "min_n": int(min_n), "min_per_class": int(min_per_class),
        "ci_method": ("percentile bootstrap; resamples stratified by group x true class within "
                      "each grouping; one resample matrix per grouping reused for every metric, "
                      "variant and cell; gaps and drops are contrasts on the same resamples"),
        "wilson_rule": WILSON_RULE + "; in a K-class audit: accuracy, top-k accuracy and each "
                                     "class's recall and precision",
        "ece": {"bins": ECE_BINS, "of": "the top probability (top-label ECE)",
                "binning": "equal-width on [0, 1]: bin k = [k/10, (k+1)/10), the last bin closed",
                "weighting": "sum over bins of (bin count / n) * |accuracy - mean top probability|"},
        "brier": "mean over images of sum over classes of (p_class - [true class])^2",
        "gap_exclude": [str(g) for g in gap_exclude],
        "metric_info": {m: CATALOGUE[m].info(AUDIT) for m in metric_names},
        "class_metric_info": {key: CATALOGUE[f"class_{key}"].info(AUDIT) for key in CLASS_KEYS},
    }
    if "top_k_accuracy" in metric_names:
        out["top_k"] = int(top_k)
    return out


def _class_indices(y_true, names: list[str]) -> np.ndarray:
    y = np.asarray(y_true)
    if y.ndim != 1:
        raise ValueError(f"y_true must be 1-D (got shape {y.shape})")
    if y.dtype.kind in "iu":
        if y.size and (y.min() < 0 or y.max() >= len(names)):
            raise ValueError(f"y_true indices must be in 0..{len(names) - 1}")
        return y.astype(np.intp)
    index = {c: i for i, c in enumerate(names)}
    labels = [str(v) for v in y.tolist()]
    unknown = sorted({v for v in labels if v not in index})
    if unknown:
        raise UserError(f"labels {unknown[:5]!r} are not among the model's class names {names!r}; "
                        f"give class_names in the model sidecar that cover every label")
    return np.array([index[v] for v in labels], dtype=np.intp)


def _check_probs(probs, *, n: int, k: int) -> tuple[np.ndarray, list[str]]:
    if not isinstance(probs, Mapping) or "clean" not in probs:
        raise ValueError(f"probs must map variant names to (N, K) probabilities and include "
                         f"'clean' (got {list(probs) if isinstance(probs, Mapping) else probs!r})")
    variants = ["clean"] + [str(v) for v in probs if v != "clean"]
    P = np.empty((len(variants), n, k))
    for i, v in enumerate(variants):
        a = np.asarray(probs[v], dtype=np.float64)
        if a.shape != (n, k):
            raise ValueError(f"probs[{v!r}] has shape {a.shape}, expected {(n, k)}")
        bad = ~np.isfinite(a) | (a < 0) | (a > 1)
        if bad.any():
            raise UserError(f"p[{v}]: {int(bad.sum())} probabilities are NaN or outside [0, 1]; "
                            f"the model must output class probabilities")
        P[i] = a
    return P, variants
