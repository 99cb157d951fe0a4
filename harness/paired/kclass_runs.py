"""``compare`` of two K-class runs (K > 2 classes, no positive class) of the same images.

Per grouping, on the clean images: McNemar's test on top-1 correctness, the paired difference
``candidate − baseline`` of every macro metric and of each class's recall, precision, F1 and
one-vs-rest AUC, overall and per group, with percentile intervals over the same stratified
(group × true class) resamples for both models; which groups got better or worse; the change of
the between-group gaps of the macro metrics. Per perturbed variant both runs have: paired deltas
of the flip statistics (a flip is a change of the top class) and of balanced accuracy; per family
the candidate's corruption error relative to the baseline. Everything is read from the two run
directories: the clean probabilities of every class (``p:<class>``) and the top class under each
variant (``pred[<variant>]``) of ``samples.csv``.
"""
from __future__ import annotations

import numpy as np

from harness.errors import UserError
from harness.metrics.catalogue import CATALOGUE, CLASS_METRICS
from harness.paired.sections import (corruption_error_ratio, gap_deltas, not_tested,
                                     with_model_intervals)
from harness.results.io import class_column, pred_column

#: Per-class keys (``classes.<name>``) whose paired deltas are given.
CLASS_KEYS: tuple[str, ...] = tuple(CLASS_METRICS.values())
#: Flip statistics a K-class comparison can pair from ``samples.csv`` (the top class only).
FLIP_DELTAS: tuple[str, ...] = ("flip_rate", "right_to_wrong", "wrong_to_right")
#: Why the other robustness deltas are missing from a K-class comparison.
NO_VARIANT_PROBABILITIES = ("samples.csv holds only the top class and its probability under a "
                            "perturbation, not every class's probability")


def is_kclass_run(results: dict) -> bool:
    """Whether a run's results are a K-class audit's."""
    return (results.get("metrics") or {}).get("audit") == "kclass"


def kclass_inputs(run, *, order: np.ndarray | None = None) -> tuple[np.ndarray, dict]:
    """(clean probabilities (N, K), {variant: (N,) top-class index}) of a K-class run, rows
    reordered by ``order`` (None: as read)."""
    names = [str(c) for c in run.metrics.get("class_names") or []]
    cols = [class_column(c) for c in names]
    missing = [c for c in cols + ["pred"] if c not in run.columns]
    if missing:
        raise UserError(f"{run.path}/samples.csv: no {missing[0]!r} column although results.json "
                        f"is a K-class audit; re-run the audit")
    rows = slice(None) if order is None else order
    P = np.stack([run.columns[c].astype(np.float64) for c in cols], axis=1)[rows]
    index = {c: i for i, c in enumerate(names)}
    preds = {}
    for v in run.metrics.get("variants") or ["clean"]:
        col = "pred" if v == "clean" else pred_column(v)
        if col not in run.columns:
            raise UserError(f"{run.path}/samples.csv: no {col!r} column although results.json "
                            f"lists variant {v}; re-run the audit")
        preds[v] = np.array([index.get(str(x), -1) for x in run.columns[col]])[rows]
    return P, preds


def check_kclass_pair(base, cand) -> list[str]:
    """The class names both K-class runs share (UserError when one run is K-class and the other
    is not, or their classes differ)."""
    kb, kc = is_kclass_run(base.results), is_kclass_run(cand.results)
    if kb != kc:
        which = (base, cand) if kb else (cand, base)
        raise UserError(f"{which[0].path} is a K-class audit and {which[1].path} a binary one; "
                        f"compare two K-class audits, or audit both with the same "
                        f"--positive-class")
    nb = [str(c) for c in base.metrics.get("class_names") or []]
    nc = [str(c) for c in cand.metrics.get("class_names") or []]
    if nb != nc:
        raise UserError(f"--baseline {base.path} and --candidate {cand.path} have different "
                        f"classes ({nb!r} and {nc!r}); compare models of the same classes")
    return nb


def kclass_compare_grouping(name: str, labels: np.ndarray, *, y: np.ndarray, names: list[str],
                            base, cand, P_base: np.ndarray, P_cand: np.ndarray,
                            pred_base: dict, pred_cand: dict, variants: list[str], n_boot: int,
                            seed: int, level: float) -> dict:
    """The comparison of one grouping (schema as the binary one's, K-class fields in it).

    Parameters
    ----------
    labels : (N,) group of each image (the baseline run's). y : (N,) true class indices.
    P_base, P_cand : (N, K) clean probabilities. pred_base, pred_cand : variant -> (N,) top class.
    """
    from harness.metrics import bootstrap_indices, counts_from_indices
    from harness.metrics.multiclass import kclass_metric_names, kclass_metrics
    from harness.metrics.paired_stats import delta_entry, mcnemar

    gr_b = base.metrics["groupings"][name]
    gr_c = cand.metrics["groupings"][name]
    groups = [str(g) for g in gr_b.get("groups") or sorted(set(labels.tolist()))]
    status = gr_b.get("status") or {}
    n, k = y.size, len(names)
    idx = bootstrap_indices(labels, y, n_boot=n_boot, seed=seed)
    W = np.vstack([np.ones((1, n)), counts_from_indices(idx, n)])
    cells = [("overall", np.arange(n))] + [(g, np.flatnonzero(labels == g)) for g in groups]
    metric_names = kclass_metric_names(k)
    perturbed = [v for v in variants if v != "clean"]
    deltas, mc, reps_clean, ba_reps = {}, {}, {}, {}
    robustness = {v: {} for v in perturbed}
    for cell, m in cells:
        yc = y[m]
        mc[cell] = mcnemar(pred_base["clean"][m] == yc, pred_cand["clean"][m] == yc)
        why = None if cell == "overall" else (
            None if (status.get(cell) or {}).get("status") == "ok"
            else (status.get(cell) or {}).get("reason") or "too few images")
        if why:
            mc[cell] = not_tested(mc[cell], why)
            deltas[cell] = {"status": "insufficient", "reason": why}
            for v in perturbed:
                robustness[v][cell] = {"status": "insufficient", "reason": why}
            continue
        Wc = W[:, m]
        rb = kclass_metrics(yc, P_base[m], weights=Wc)
        rc = kclass_metrics(yc, P_cand[m], weights=Wc)
        reps_clean[cell] = (rb, rc)
        support = np.bincount(yc, minlength=k)

        def delta(b, c, metric, n_):
            return with_model_intervals(
                delta_entry(b, c, higher_is_better=CATALOGUE[metric].higher_is_better,
                            level=level, n=n_, why=f"{metric} undefined for either model"),
                b, c, level=level)

        entry = {"status": "ok"}
        for metric in metric_names:
            entry[metric] = delta(rb[metric], rc[metric], metric, int(m.size))
        entry["classes"] = {}
        for ci, cname in enumerate(names):
            entry["classes"][cname] = {
                key: delta(rb["class_roc_auc" if key == "roc_auc" else key][:, ci],
                           rc["class_roc_auc" if key == "roc_auc" else key][:, ci],
                           f"class_{key}", int(support[ci]) if key == "recall" else
                           (None if key == "precision" else int(m.size)))
                for key in CLASS_KEYS}
        deltas[cell] = entry
        ba_reps[cell] = {"clean": (rb["balanced_accuracy"], rc["balanced_accuracy"])}
        for v in perturbed:
            sb = _top_class_stats(yc, pred_base["clean"][m], pred_base[v][m], Wc, k)
            sc = _top_class_stats(yc, pred_cand["clean"][m], pred_cand[v][m], Wc, k)
            robustness[v][cell] = {"status": "ok", **{
                s: delta_entry(sb[s], sc[s], higher_is_better=CATALOGUE[s].higher_is_better,
                               level=level, n=int(m.size), why=f"{s} undefined for either model")
                for s in FLIP_DELTAS + ("balanced_accuracy",)}}
            for s in ("mean_abs_delta_p", "roc_auc"):
                robustness[v][cell][s] = {"baseline": None, "candidate": None, "delta": None,
                                          "ci": None, "n": int(m.size),
                                          "reason": NO_VARIANT_PROBABILITIES, "change": None}
            ba_reps[cell][v] = (sb["balanced_accuracy"], sc["balanced_accuracy"])
    gap_groups = [g for g in gr_b.get("gap_groups") or [] if g in (gr_c.get("gap_groups") or [])
                  and g in reps_clean]
    return {
        "groups": groups,
        "gap_groups": gap_groups,
        "status": {g: status.get(g) for g in groups},
        "deltas": {"overall": deltas["overall"], "groups": {g: deltas[g] for g in groups}},
        "mcnemar": {"overall": mc["overall"], "groups": {g: mc[g] for g in groups}},
        "changes": _changes(deltas, groups, metric_names, names),
        "gaps": gap_deltas(reps_clean, gap_groups, metric_names, level=level),
        "robustness": {v: {"overall": robustness[v]["overall"],
                           "groups": {g: robustness[v][g] for g in groups}} for v in robustness},
        "corruption_error": corruption_error_ratio(ba_reps, groups, variants, level=level),
    }


def _top_class_stats(y, pred_clean, pred_variant, W, k: int) -> dict:
    """Replicates (rows of ``W``) of the flip statistics and the variant's balanced accuracy,
    from top-class indices alone."""
    from harness.metrics.multiclass import macro_mean

    right_c, right_v = pred_clean == y, pred_variant == y
    cols = np.stack([pred_clean != pred_variant, right_c & ~right_v, ~right_c & right_v],
                    axis=1).astype(np.float64)
    n_w = W.sum(axis=1)
    sums = W @ cols
    hit = np.zeros((y.size, k))
    hit[np.arange(y.size), y] = 1.0
    with np.errstate(invalid="ignore", divide="ignore"):
        support = W @ hit
        recall = np.where(support > 0, (W @ (hit * right_v[:, None])) / support, np.nan)
        out = {s: sums[:, i] / n_w for i, s in enumerate(FLIP_DELTAS)}
    out["balanced_accuracy"] = macro_mean(recall)
    return out


def _changes(deltas: dict, groups: list[str], metric_names, names: list[str]) -> list[dict]:
    """Every (cell, metric) — per-class metrics as ``recall`` with their ``class`` — whose paired
    interval excludes 0."""
    out = []
    for cell in ["overall"] + groups:
        d = deltas[cell]
        if d.get("status") != "ok":
            continue
        found = [(metric, None, d[metric]) for metric in metric_names]
        found += [(key, c, d["classes"][c][key]) for c in names for key in CLASS_KEYS]
        for metric, cname, e in found:
            if e["change"] in ("better", "worse"):
                row = {"group": None if cell == "overall" else cell, "metric": metric,
                       "change": e["change"], "delta": e["delta"], "ci": e["ci"],
                       "baseline": e["baseline"], "candidate": e["candidate"]}
                if cname is not None:
                    row["class"] = cname
                out.append(row)
    return out


