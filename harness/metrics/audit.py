"""``audit_metrics``: the "metrics" section of results.json (schema in docs/results-schema.md)."""
from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from ..errors import UserError
from harness.results.variants import families_of
from .bootstrap import percentile_interval, resample_blocks
from .entries import WILSON_RULE, by_cell, metric_entry, small_group_rule, too_few_reason
from .audit_inputs import MISSING_GROUP, check_options, clean_groupings, ordered_groups
from .frame import frame_values, metric_frame
from .gaps import gaps_by_variant
from .misclassified import misclassified
from .rates import ECE_BINS, METRIC_INFO, METRICS, UNDEFINED_REASON
from .replicates import Replicates, compute_replicates
from .robustness import corruption_error, mean_flip_rate, robustness_by_variant, severity_curves
from .thresholds import threshold_grid, threshold_optimizer_what_if, threshold_summary

SCHEMA_ID = "dermatrace.metrics/1"

_PROPORTION_PARTS = {   # metric -> (successes, denominator) from (tp, fp, fn, tn)
    "accuracy": lambda tp, fp, fn, tn: (tp + tn, tp + fp + fn + tn),
    "sensitivity": lambda tp, fp, fn, tn: (tp, tp + fn),
    "specificity": lambda tp, fp, fn, tn: (tn, tn + fp),
    "precision": lambda tp, fp, fn, tn: (tp, tp + fp),
    "npv": lambda tp, fp, fn, tn: (tn, tn + fn),
}


def audit_metrics(*, y_true: np.ndarray, p: Mapping[str, np.ndarray],
                  groups: Mapping[str, np.ndarray], threshold: float, n_boot: int = 1000,
                  seed: int = 0, min_n: int = 30, min_per_class: int = 10,
                  reference: dict | None = None, ci_level: float = 0.95,
                  group_order: Mapping[str, Sequence[str]] | None = None,
                  gap_exclude: Sequence[str] = (MISSING_GROUP,), threshold_points: int = 101,
                  target_sensitivity: float = 0.90, misclassified_top_k: int = 20,
                  y_true_class: np.ndarray | None = None, y_pred_class: np.ndarray | None = None,
                  class_names: Sequence[str] | None = None,
                  class_labels: Sequence[str] | None = None) -> dict:
    """Fairness and robustness metrics of one audit, JSON-ready.

    Parameters
    ----------
    y_true : (N,) 0/1 (bool accepted); 1 = the model's positive class.
    p : variant name -> (N,) probability of the positive class; must contain ``"clean"``. Other
        names are ``"<family>@<severity>"`` (e.g. ``"blur@3"``) for severity curves.
    groups : grouping name (e.g. ``"group"``, ``"fitzpatrick"``) -> (N,) group label per image.
        Missing labels (None, NaN, "") become ``"unknown"``; integral floats are written as
        integers (3.0 -> "3"). No grouping -> one grouping ``"all"``.
    threshold : operating threshold; predicted positive when ``p >= threshold``.
    n_boot : bootstrap resamples B (stratified by group × label, one matrix per grouping).
    seed : seed of the resamples; same inputs and seed -> identical output.
    min_n, min_per_class : a cell with fewer images, or fewer positives or negatives, is
        ``"insufficient"``: too few to judge. Its metrics are computed (with their wide
        intervals) and its ``reason`` says why in words, but it never enters gaps, the worst
        group, severity curves or the what-if, and gates do not judge it.
    reference : the "metrics" section of another run, for corruption error (mCE); None skips it.
    ci_level : interval level (0.95).
    group_order : grouping name -> display order of its groups (e.g. light -> dark); groups not
        listed follow, sorted (numeric labels numerically). The first and last compared groups make
        ``first_vs_last``.
    gap_exclude : group labels never compared in gaps (default: ``"unknown"``).
    threshold_points : size of the threshold grid on [0, 1].
    target_sensitivity : the TPR each group's required threshold is computed for.
    misclassified_top_k : listed false positives / negatives per cell.
    y_true_class, y_pred_class, class_names : optional K-class true and predicted labels (clean),
        for ``confusion_matrix_full``; all three or none.
    class_labels : optional (negative, positive) class names, for the reasons of cells too small
        to judge (``"3 atopic_dermatitis"``); without them the reasons count positives and
        negatives.

    Returns
    -------
    dict: the "metrics" section (plain Python; no NaN; undefined values None with a reason).
    """
    y, P, variants = _check_inputs(y_true, p, threshold)
    check_options(n_boot=n_boot, min_n=min_n, min_per_class=min_per_class, ci_level=ci_level,
                   threshold_points=threshold_points, target_sensitivity=target_sensitivity)
    groupings = clean_groupings(groups, y.size)
    labels_of_classes = _class_labels(class_labels)
    grid = threshold_grid(threshold_points)
    out = {
        "schema": SCHEMA_ID,
        "settings": _settings(threshold=threshold, n_boot=n_boot, seed=seed, ci_level=ci_level,
                              min_n=min_n, min_per_class=min_per_class,
                              grid_points=threshold_points,
                              target_sensitivity=target_sensitivity,
                              top_k=misclassified_top_k, gap_exclude=gap_exclude),
        "variants": variants,
        "families": families_of(variants),
        "groupings": {},
    }
    full = _full_inputs(y_true_class, y_pred_class, class_names, y.size)
    order = dict(group_order or {})
    for name, labels in groupings.items():
        out["groupings"][name] = _grouping(
            name, labels, y=y, P=P, variants=variants, threshold=threshold, n_boot=n_boot,
            seed=seed, min_n=min_n, min_per_class=min_per_class, level=ci_level,
            order=order.get(name), gap_exclude=set(gap_exclude), grid=grid,
            target=target_sensitivity, top_k=misclassified_top_k, reference=reference, full=full,
            class_labels=labels_of_classes)
    return out


def _grouping(name, labels, *, y, P, variants, threshold, n_boot, seed, min_n, min_per_class,
              level, order, gap_exclude, grid, target, top_k, reference, full,
              class_labels) -> dict:
    group_names = ordered_groups(labels, order)
    cells = ["overall"] + group_names
    members = [np.arange(y.size)] + [np.flatnonzero(labels == g) for g in group_names]
    insufficient = [_insufficiency(y[m], min_n, min_per_class, class_labels) for m in members]
    gap_groups = [g for g, r in zip(group_names, insufficient[1:]) if r is None
                  and g not in gap_exclude]

    weights = resample_blocks(labels, y, n_boot=n_boot, seed=seed)   # made block by block
    rep = compute_replicates(y=y, P=P, variants=variants, cells=cells, members=members,
                             weights=weights, threshold=threshold)
    # Headline clean numbers through fairlearn's MetricFrame (the engine agrees to ~1e-15).
    overall, by_group = frame_values(metric_frame(y_true=y, p=P[0], groups=labels,
                                                  threshold=threshold))
    for c, vals in enumerate([overall] + [by_group[g] for g in group_names]):
        rep.values[0, c, :, 0] = [vals[m] for m in METRICS]

    status = {g: _status_fields(y[m], r) for g, m, r in zip(group_names, members[1:],
                                                             insufficient[1:])}
    cell_json = _cells_json(rep, insufficient, level=level, n_boot=n_boot)
    rule = small_group_rule(min_n, min_per_class)
    gaps = gaps_by_variant(rep, gap_groups=gap_groups, level=level, n_boot=n_boot, rule=rule)
    per_variant = {v: {**by_cell(cells, cell_json[k]), "gaps": gaps[v]}
                   for k, v in enumerate(variants)}
    result = {
        "groups": group_names,
        "group_order": "given" if order else "sorted",
        "status": status,
        "gap_groups": gap_groups,
        "variants": per_variant,
        "thresholds": _thresholds_json(y, P[0], cells, members, insufficient, grid=grid,
                                       threshold=threshold, target=target),
        "threshold_optimizer": threshold_optimizer_what_if(
            y, P[0], labels, gap_groups=gap_groups, threshold=threshold, seed=seed, rule=rule),
        "robustness": robustness_by_variant(rep, insufficient=insufficient, level=level,
                                            n_boot=n_boot),
        "severity_curves": severity_curves(rep, insufficient=insufficient, level=level,
                                           n_boot=n_boot),
        "corruption_error": corruption_error(rep, insufficient=insufficient, grouping=name,
                                             reference=reference),
        "mean_flip_rate": mean_flip_rate(rep, insufficient=insufficient, grouping=name,
                                         reference=reference),
        "misclassified": {
            "top_k": top_k,
            **by_cell(cells, [misclassified(y, P[0], m, threshold=threshold, top_k=top_k)
                              for m in members]),
        },
    }
    if full is not None:
        result["confusion_matrix_full"] = _full_confusion(full, cells, members)
    return result


def _cells_json(rep: Replicates, insufficient, *, level, n_boot) -> list[list[dict]]:
    """[variant][cell] -> CELL. A cell too small to judge gets its metrics too (the same
    estimates and intervals); its status and reason say that it is not judged."""
    lo, hi, n_undef = percentile_interval(rep.values[..., 1:], level=level, axis=-1)
    out = []
    for v in range(len(rep.variants)):
        row = []
        for c, idx in enumerate(rep.members):
            tp, fp, fn, tn = (int(round(x)) for x in rep.counts[v, c])
            n = tp + fp + fn + tn
            cell = {"status": "insufficient" if insufficient[c] else "ok",
                    "reason": insufficient[c], "n": n, "positives": tp + fn,
                    "negatives": tn + fp, "predicted_positives": tp + fp,
                    "confusion_matrix": [[tn, fp], [fn, tp]], "metrics": {}}
            for m, name in enumerate(METRICS):
                parts = _PROPORTION_PARTS.get(name)
                k, den = parts(tp, fp, fn, tn) if parts else (None, n)
                cell["metrics"][name] = metric_entry(
                    value=rep.values[v, c, m, 0], n=den, lo=lo[v, c, m], hi=hi[v, c, m],
                    n_undef=int(n_undef[v, c, m]), n_boot=n_boot,
                    undefined_reason=UNDEFINED_REASON[name], successes=k, level=level)
            row.append(cell)
        out.append(row)
    return out


def _thresholds_json(y, p, cells, members, insufficient, *, grid, threshold, target) -> dict:
    tcs = []
    for idx, why in zip(members, insufficient):
        if why:
            tcs.append({"status": "insufficient", "reason": why, "n": int(idx.size)})
        else:
            tcs.append({"status": "ok", "reason": None, "n": int(idx.size),
                        **threshold_summary(y[idx], p[idx], grid=grid, threshold=threshold,
                                            target_sensitivity=target)})
    return {"grid": [float(t) for t in grid], "operating_threshold": float(threshold),
            "target_sensitivity": float(target), **by_cell(cells, tcs)}


def _insufficiency(y: np.ndarray, min_n: int, min_per_class: int,
                   class_labels: tuple[str, str] | None = None) -> str | None:
    """Why the cell of images ``y`` is too small to judge, in words; None when it is judged.
    Whatever the minimums, one class alone cannot be judged."""
    return too_few_reason(n=int(y.size), positives=int(y.sum()), min_n=min_n,
                          min_per_class=min_per_class, class_labels=class_labels)


def _status_fields(y: np.ndarray, why: str | None) -> dict:
    return {"status": "insufficient" if why else "ok", "reason": why, "n": int(y.size),
            "positives": int(y.sum()), "negatives": int(y.size - y.sum())}


def _settings(*, threshold, n_boot, seed, ci_level, min_n, min_per_class, grid_points,
              target_sensitivity, top_k, gap_exclude) -> dict:
    return {
        "threshold": float(threshold),
        "decision_rule": "predicted positive when p >= threshold",
        "n_boot": int(n_boot), "seed": int(seed), "ci_level": float(ci_level),
        "min_n": int(min_n), "min_per_class": int(min_per_class),
        "ci_method": ("percentile bootstrap; resamples stratified by group x label within each "
                      "grouping; one resample matrix per grouping reused for every metric, variant "
                      "and cell; gaps and drops are contrasts on the same resamples"),
        "wilson_rule": WILSON_RULE,
        "ece": {"bins": ECE_BINS,
                "binning": "equal-width on [0, 1]: bin k = [k/10, (k+1)/10), the last bin closed",
                "weighting": "sum over bins of (bin count / n) * |mean label - mean p|"},
        "threshold_grid": int(grid_points), "target_sensitivity": float(target_sensitivity),
        "misclassified_top_k": int(top_k), "gap_exclude": [str(g) for g in gap_exclude],
        "metric_info": {m: dict(METRIC_INFO[m]) for m in METRICS},
    }


def _check_inputs(y_true, p, threshold) -> tuple[np.ndarray, np.ndarray, list[str]]:
    y = np.asarray(y_true)
    if y.ndim != 1:
        raise ValueError(f"y_true must be 1-D (got shape {y.shape})")
    if y.dtype != bool:
        if not np.isin(y, (0, 1)).all():
            raise ValueError(f"y_true must hold 0/1 (got values {np.unique(y)[:5].tolist()!r})")
    y = y.astype(bool)
    if not isinstance(p, Mapping) or "clean" not in p:
        raise ValueError(f"p must map variant names to probabilities and include 'clean' "
                         f"(got {list(p) if isinstance(p, Mapping) else type(p).__name__!r})")
    variants = ["clean"] + [str(v) for v in p if v != "clean"]
    P = np.empty((len(variants), y.size))
    for i, v in enumerate(variants):
        a = np.asarray(p[v], dtype=np.float64)
        if a.shape != y.shape:
            raise ValueError(f"p[{v!r}] has shape {a.shape}, expected {y.shape}")
        bad = ~np.isfinite(a) | (a < 0) | (a > 1)
        if bad.any():
            raise UserError(f"p[{v}]: {int(bad.sum())} probabilities are NaN or outside [0, 1] "
                            f"(first: {float(a[bad][0])!r}); the model must output the probability "
                            f"of the positive class")
        P[i] = a
    t = float(threshold)
    if not 0.0 <= t <= 1.0:
        raise UserError(f"threshold: must be in [0, 1] (got {threshold!r}); set it in the model "
                        f"sidecar or the config")
    return y, P, variants


def _class_labels(class_labels) -> tuple[str, str] | None:
    if class_labels is None:
        return None
    names = [str(c) for c in class_labels]
    if len(names) != 2 or not all(n.strip() for n in names):
        raise ValueError(f"class_labels must be two names, (negative, positive) "
                         f"(got {list(class_labels)!r})")
    return names[0], names[1]


def _full_inputs(y_true_class, y_pred_class, class_names, n):
    given = [a is not None for a in (y_true_class, y_pred_class, class_names)]
    if not any(given):
        return None
    if not all(given):
        raise ValueError("y_true_class, y_pred_class and class_names go together (got only some)")
    t = np.asarray(y_true_class)
    pr = np.asarray(y_pred_class)
    if t.shape != (n,) or pr.shape != (n,):
        raise ValueError(f"y_true_class/y_pred_class must have shape ({n},)")
    names = [str(c) for c in class_names]
    if t.dtype.kind in "iu":
        t, pr = np.asarray(names, dtype=object)[t], np.asarray(names, dtype=object)[pr]
    return t.astype(str), pr.astype(str), names


def _full_confusion(full, cells, members) -> dict:
    from sklearn.metrics import confusion_matrix

    t, pr, names = full
    mats = [confusion_matrix(t[idx], pr[idx], labels=names).tolist() for idx in members]
    return {"class_names": names, "rows": "true class", "columns": "predicted class",
            **by_cell(cells, mats)}
