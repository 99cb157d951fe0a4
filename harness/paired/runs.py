"""``compare``: is the candidate model really better than the baseline, and for whom?

Both runs must be audits of the same images (equal dataset fingerprints). Everything is read from
the two run directories (``results.json`` + ``samples.csv``); no model is run.

Per grouping (the estimated skin tone ``group`` and every label grouping both runs have), on the
clean images: the paired difference ``candidate − baseline`` of every cell metric, overall and per
group, with percentile intervals over the *same* stratified resamples for both models
(``harness.metrics.bootstrap_indices`` with the runs' seed), McNemar's test on the paired
correct/incorrect predictions (each model at its own threshold), which groups got better or worse
(the paired interval excludes 0), the change of every between-group gap, and the shift of the
operating and best per-group thresholds. Per perturbed variant both runs have: paired deltas of
flip statistics, balanced accuracy and AUC; per family the corruption error of the candidate
relative to the baseline (mCE-style) with paired intervals. Where both runs have Grad-CAM drift,
the change of its medians.

Gates (absolute gates on the candidate, regression gates on the comparison) and the files
(``comparison.json``, ``comparison.html``, ``junit.xml``) are added by
:class:`harness.paired.comparison.Comparison`, which ``harness.compare(a, b)`` returns.
"""
from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from harness.errors import UserError
from harness.gates.file import REGRESSION_VARIANT_METRICS
# Metric names, directions and denominators: the one catalogue gates, compare and the report read.
from harness.metrics.catalogue import CATALOGUE, CELL_METRICS, HEADLINE_METRICS
from harness.paired.kclass_runs import (check_kclass_pair, is_kclass_run, kclass_compare_grouping,
                                        kclass_inputs)
from harness.paired.sections import (corruption_error_ratio, drift_deltas, gap_deltas,
                                     not_tested, with_model_intervals)
from harness.results.io import group_label

SCHEMA_ID = "dermatrace.comparison/1"
COMPARISON_FILE = "comparison.json"

#: Paired deltas per perturbed variant (what regression gates on perturbed images can read).
ROBUSTNESS_DELTAS: tuple[str, ...] = REGRESSION_VARIANT_METRICS
#: Metrics named in the summary lines.
HEADLINE: tuple[str, ...] = HEADLINE_METRICS

PAIRED_RULE = (
    "paired percentile bootstrap: one stratified (group x label) resample matrix per grouping, "
    "drawn from the seed, applied to both models, so every interval is of candidate − baseline "
    "on the same images; a group is better or worse when that interval excludes 0"
)
CE_RULE = (
    "error = 1 − balanced accuracy; ce[family] = Σ_s err_candidate(s) / Σ_s err_baseline(s) over "
    "the severities both runs have (< 1: the candidate errs less under that corruption); "
    "relative_ce uses errors above each model's own clean error; mce / relative_mce = mean over "
    "families; intervals are paired bootstrap"
)

#: The summary line of a comparison of a model with itself (``warning: `` lines are printed even
#: under ``--quiet``).
SAME_RUN_WARNING = (
    "warning: baseline and candidate are the same model (hash {hash}) with the same predictions "
    "on every image, so every difference is 0 by construction; was the same run given twice?")


@dataclass
class Run:
    """One run directory, read."""

    path: Path
    results: dict
    files: list[str]
    labels: np.ndarray          # (N,) str
    p: dict[str, np.ndarray]    # variant -> (N,) float64 ("clean" included)
    columns: dict[str, np.ndarray]   # samples.csv columns by name (object arrays)

    @property
    def threshold(self) -> float:
        return float(self.results["model"]["threshold"])

    @property
    def positive_class(self) -> str:
        return str(self.results["model"]["positive_class"])

    @property
    def metrics(self) -> dict:
        return self.results.get("metrics") or {}


def read_run(run_dir: str | Path) -> Run:
    """Read a run directory's ``results.json`` and ``samples.csv`` (UserError when unusable)."""
    from harness.results.io import read_results, read_samples

    path = Path(run_dir)
    return run_from_tables(path, read_results(path), read_samples(path))


def run_from_tables(path: Path, results: dict, samples) -> Run:
    """A :class:`Run` of results and samples already in memory (``samples``: the samples.csv
    DataFrame); ``path`` names the run in messages and in the comparison."""
    from harness.results.io import variant_column

    for key in ("model", "dataset", "metrics"):
        if not isinstance(results.get(key), dict):
            raise UserError(f"{path}: results.json has no {key!r} section; re-run the audit")
    for col in ("file", "label", "p"):
        if col not in samples.columns:
            raise UserError(f"{path}/samples.csv: no {col!r} column; re-run the audit")
    p = {"clean": samples["p"].to_numpy(dtype=np.float64)}
    for v in results["metrics"].get("variants") or []:
        if v == "clean":
            continue
        col = variant_column(v)
        if col not in samples.columns:
            raise UserError(f"{path}/samples.csv: no {col!r} column although results.json lists "
                            f"variant {v}; re-run the audit")
        p[v] = samples[col].to_numpy(dtype=np.float64)
    return Run(path=path, results=results, files=[str(f) for f in samples["file"]],
               labels=samples["label"].astype(str).to_numpy(), p=p,
               columns={c: samples[c].to_numpy(dtype=object) for c in samples.columns})


def _check_same_images(base: Run, cand: Run) -> np.ndarray:
    """Candidate row order aligned to the baseline's (UserError when the images differ)."""
    fb = base.results["dataset"].get("fingerprint")
    fc = cand.results["dataset"].get("fingerprint")
    if not fb or fb != fc:
        raise UserError(f"--baseline {base.path} and --candidate {cand.path} are not audits of the "
                        f"same images (dataset fingerprints {str(fb)[:12]} and {str(fc)[:12]}); "
                        f"audit both models on the same data")
    if base.positive_class != cand.positive_class:
        raise UserError(f"--baseline {base.path} and --candidate {cand.path} use different positive "
                        f"classes ({base.positive_class!r} and {cand.positive_class!r}); audit both "
                        f"with the same --positive-class")
    pos = {f: i for i, f in enumerate(cand.files)}
    if len(pos) != len(cand.files) or sorted(pos) != sorted(base.files):
        raise UserError(f"{cand.path}/samples.csv and {base.path}/samples.csv do not list the same "
                        f"files; re-run both audits")
    order = np.array([pos[f] for f in base.files], dtype=np.int64)
    if not np.array_equal(cand.labels[order], base.labels):
        raise UserError(f"{cand.path}/samples.csv and {base.path}/samples.csv disagree on labels; "
                        f"re-run both audits")
    return order


def _grouping_labels(run: Run, grouping: str, n: int) -> np.ndarray | None:
    """Per-image group labels of a grouping, checked against the run's counts."""
    gr = run.metrics["groupings"][grouping]
    if grouping == "all":
        return np.full(n, "all")
    if grouping not in run.columns:
        return None
    labels = np.array([group_label(x) for x in run.columns[grouping]], dtype=str)
    for g, st in (gr.get("status") or {}).items():
        if int(np.count_nonzero(labels == g)) != int(st.get("n", -1)):
            raise UserError(f"{run.path}/samples.csv: column {grouping!r} does not match "
                            f"results.json (group {g}: {int(np.count_nonzero(labels == g))} rows, "
                            f"{st.get('n')} in results); re-run the audit")
    return labels


# ---------------------------------------------------------------------------------- compare
def compare_runs(baseline_dir: str | Path, candidate_dir: str | Path, *, n_boot: int = 1000,
                 seed: int = 0) -> dict:
    """Compare two audits of the same images.

    Parameters
    ----------
    baseline_dir, candidate_dir : run directories written by ``harness run``.
    n_boot : bootstrap resamples for the paired intervals.
    seed : seed of the resamples (the runs' own seed reproduces their resample matrices).

    Returns
    -------
    The JSON-ready comparison (schema ``dermatrace.comparison/1``, docs/comparison.md).

    Raises
    ------
    UserError
        The runs are not of the same images (fingerprints differ), use different positive
        classes, or their files are unreadable.
    """
    return compare(read_run(baseline_dir), read_run(candidate_dir), n_boot=n_boot, seed=seed)


def compare(base: Run, cand: Run, *, n_boot: int = 1000, seed: int = 0) -> dict:
    """:func:`compare_runs` on runs already read."""
    if n_boot < 1:
        raise UserError(f"n_boot: must be >= 1 (got {n_boot!r})")
    names = check_kclass_pair(base, cand) if (is_kclass_run(base.results)
                                              or is_kclass_run(cand.results)) else None
    order = _check_same_images(base, cand)
    cand_p = {v: a[order] for v, a in cand.p.items()}
    if names is not None:
        index = {c: i for i, c in enumerate(names)}
        y = np.array([index.get(str(v), -1) for v in base.labels])
        if (y < 0).any():
            raise UserError(f"{base.path}/samples.csv: labels outside the classes {names!r}; "
                            f"re-run the audit")
        P_base, pred_base = kclass_inputs(base)
        P_cand, pred_cand = kclass_inputs(cand, order=order)
    else:
        y = base.labels == base.positive_class
    settings = base.metrics.get("settings") or {}
    level = float(settings.get("ci_level") or 0.95)
    exclude = [str(g) for g in settings.get("gap_exclude") or ["unknown"]]
    variants = [v for v in base.metrics.get("variants") or ["clean"] if v in cand.p]
    only = {"baseline": [v for v in base.p if v not in cand.p],
            "candidate": [v for v in cand.p if v not in base.p]}
    groupings = {}
    for name in base.metrics["groupings"]:
        if name not in cand.metrics.get("groupings", {}):
            continue
        labels = _grouping_labels(base, name, y.size)
        if labels is None:
            continue
        cand_labels = _grouping_labels(cand, name, y.size)
        disagree = (int(np.count_nonzero(cand_labels[order] != labels))
                    if cand_labels is not None else None)
        if names is not None:
            groupings[name] = kclass_compare_grouping(
                name, labels, y=y, names=names, base=base, cand=cand, P_base=P_base,
                P_cand=P_cand, pred_base=pred_base, pred_cand=pred_cand, variants=variants,
                n_boot=n_boot, seed=seed, level=level)
        else:
            groupings[name] = _compare_grouping(
                name, labels, y=y, base=base, cand=cand, p_base=base.p, p_cand=cand_p,
                variants=variants, n_boot=n_boot, seed=seed, level=level, exclude=exclude)
        groupings[name]["group_label_disagreements"] = disagree
    comparison = {
        "schema": SCHEMA_ID,
        "baseline": _run_info(base),
        "candidate": _run_info(cand),
        "dataset": _dataset_info(base, y, names),
        "settings": {"n_boot": int(n_boot), "seed": int(seed), "ci_level": level,
                     "gap_exclude": exclude, "paired": PAIRED_RULE,
                     "mcnemar": _mcnemar_rule(), "corruption_error": CE_RULE,
                     "group_labels": "the baseline run's group of each image"},
        "variants": variants,
        "variants_only_in": only,
        "groupings": groupings,
        "gradcam": drift_deltas(base.results.get("gradcam"), cand.results.get("gradcam"),
                                 variants),
    }
    comparison["summary"] = summary_lines(comparison)
    if _same_model_and_predictions(base, cand, cand_p):
        comparison["summary"].insert(1, SAME_RUN_WARNING.format(hash=str(base.results["model"]
                                                                           ["hash"])[:12]))
    return comparison


def _dataset_info(base: Run, y: np.ndarray, names: list[str] | None) -> dict:
    info = {"fingerprint": base.results["dataset"].get("fingerprint"), "n_images": int(y.size)}
    if names is not None:
        counts = np.bincount(y, minlength=len(names))
        return {**info, "audit": "kclass", "class_names": names,
                "class_counts": dict(zip(names, counts.tolist()))}
    return {**info, "positive_class": base.positive_class, "n_positive": int(y.sum()),
            "n_negative": int(y.size - y.sum())}


def _same_model_and_predictions(base: Run, cand: Run, cand_p: dict[str, np.ndarray]) -> bool:
    """Both runs of one model (equal model hashes) with equal predictions on every variant."""
    hb, hc = base.results["model"].get("hash"), cand.results["model"].get("hash")
    if not hb or hb != hc or set(base.p) != set(cand_p):
        return False
    return all(np.array_equal(base.p[v], cand_p[v]) for v in base.p)


def _mcnemar_rule() -> str:
    from harness.metrics.paired_stats import MCNEMAR_RULE

    return MCNEMAR_RULE


def _run_info(run: Run) -> dict:
    m = run.results["model"]
    return {"run": str(run.path), "model": m.get("name") or Path(str(m.get("path", ""))).stem,
            "path": m.get("path"), "hash": m.get("hash"), "format": m.get("format"),
            "threshold": float(m["threshold"]), "positive_class": m.get("positive_class"),
            "recipe": (m.get("sidecar") or {}).get("recipe")}


def _compare_grouping(name: str, labels: np.ndarray, *, y, base: Run, cand: Run, p_base, p_cand,
                      variants: list[str], n_boot: int, seed: int, level: float,
                      exclude: list[str]) -> dict:
    from harness.metrics.paired_stats import (cell_replicates_many, delta_entry, flip_replicates_many,
                                       mcnemar)
    from harness.metrics import bootstrap_indices, counts_from_indices

    gr_b = base.metrics["groupings"][name]
    gr_c = cand.metrics["groupings"][name]
    groups = [str(g) for g in gr_b.get("groups") or sorted(set(labels.tolist()))]
    status = gr_b.get("status") or {}
    n = y.size
    idx = bootstrap_indices(labels, y, n_boot=n_boot, seed=seed)
    W = np.vstack([np.ones((1, n)), counts_from_indices(idx, n)])
    cells = [("overall", np.arange(n))] + [(g, np.flatnonzero(labels == g)) for g in groups]
    ok = {c: (c == "overall" or (status.get(c) or {}).get("status") == "ok") for c, _ in cells}
    tb, tc = base.threshold, cand.threshold
    perturbed = [v for v in variants if v != "clean"]

    clean_reps: dict[str, tuple[dict, dict]] = {}
    deltas: dict[str, dict] = {}
    robustness: dict[str, dict] = {v: {} for v in perturbed}
    ba_reps: dict[str, dict[str, tuple[np.ndarray, np.ndarray]]] = {}
    mc = {}
    for cell, m in cells:
        yc = y[m]
        mc[cell] = mcnemar((p_base["clean"][m] >= tb) == yc, (p_cand["clean"][m] >= tc) == yc)
        if not ok[cell]:
            why = (status.get(cell) or {}).get("reason") or "too few images"
            mc[cell] = not_tested(mc[cell], why)
            deltas[cell] = {"status": "insufficient", "reason": why}
            for v in robustness:
                robustness[v][cell] = {"status": "insufficient", "reason": why}
            continue
        Wc = W[:, m]
        # rows: (baseline, candidate) x ("clean", *perturbed), one matrix product per cell
        order = [(v, k) for v in ["clean"] + perturbed for k in (0, 1)]
        P = np.stack([(p_base if k == 0 else p_cand)[v][m] for v, k in order])
        T = [tb if k == 0 else tc for _, k in order]
        reps = cell_replicates_many(yc, P, thresholds=T, weights=Wc)
        row = {key: i for i, key in enumerate(order)}

        def rep(metric, v, k, reps=reps, row=row):
            return reps[metric][row[(v, k)]]

        rb = {metric: rep(metric, "clean", 0) for metric in CELL_METRICS}
        rc = {metric: rep(metric, "clean", 1) for metric in CELL_METRICS}
        clean_reps[cell] = (rb, rc)
        # each metric's own denominator (sensitivity: the positives); precision and NPV count
        # each model's own predictions, so no single n is shown for their difference
        npos = int(yc.sum())
        dens = {"n": int(m.size), "positives": npos, "negatives": int(m.size) - npos}
        deltas[cell] = {"status": "ok", **{
            metric: with_model_intervals(
                delta_entry(rb[metric], rc[metric],
                            higher_is_better=CATALOGUE[metric].higher_is_better, level=level,
                            n=dens.get(CATALOGUE[metric].denominator),
                            why=f"{metric} undefined for either model"),
                rb[metric], rc[metric], level=level)
            for metric in CELL_METRICS}}
        ba_reps[cell] = {"clean": (rb["balanced_accuracy"], rc["balanced_accuracy"])}
        if perturbed:
            pairs = [(v, k) for v in perturbed for k in (0, 1)]
            fl = flip_replicates_many(
                yc, np.stack([(p_base if k == 0 else p_cand)["clean"][m] for _, k in pairs]),
                np.stack([(p_base if k == 0 else p_cand)[v][m] for v, k in pairs]),
                thresholds=[tb if k == 0 else tc for _, k in pairs], weights=Wc)
            frow = {key: i for i, key in enumerate(pairs)}
        for v in perturbed:
            def stat(name, k, v=v):
                if name in fl:
                    return fl[name][frow[(v, k)]]
                return rep(name, v, k)

            robustness[v][cell] = {"status": "ok", **{
                s: delta_entry(stat(s, 0), stat(s, 1),
                               higher_is_better=CATALOGUE[s].higher_is_better,
                               level=level, n=int(m.size), why=f"{s} undefined for either model")
                for s in ROBUSTNESS_DELTAS}}
            ba_reps[cell][v] = (rep("balanced_accuracy", v, 0), rep("balanced_accuracy", v, 1))

    gap_groups = [g for g in gr_b.get("gap_groups") or [] if g in (gr_c.get("gap_groups") or [])
                  and g in clean_reps]
    return {
        "groups": groups,
        "gap_groups": gap_groups,
        "status": {g: status.get(g) for g in groups},
        "deltas": {"overall": deltas["overall"], "groups": {g: deltas[g] for g in groups}},
        "mcnemar": {"overall": mc["overall"], "groups": {g: mc[g] for g in groups}},
        "changes": _changes(deltas, groups),
        "gaps": _gap_deltas(clean_reps, gap_groups, level=level),
        "thresholds": _threshold_shifts(gr_b, gr_c, groups, tb, tc),
        "robustness": {v: {"overall": robustness[v]["overall"],
                           "groups": {g: robustness[v][g] for g in groups}} for v in robustness},
        "corruption_error": corruption_error_ratio(ba_reps, groups, variants, level=level),
    }


def _changes(deltas: dict, groups: list[str]) -> list[dict]:
    """Every (cell, metric) whose paired interval excludes 0."""
    out = []
    for cell in ["overall"] + groups:
        d = deltas[cell]
        if d.get("status") != "ok":
            continue
        for metric in CELL_METRICS:
            e = d[metric]
            if e["change"] in ("better", "worse"):
                out.append({"group": None if cell == "overall" else cell, "metric": metric,
                            "change": e["change"], "delta": e["delta"], "ci": e["ci"],
                            "baseline": e["baseline"], "candidate": e["candidate"]})
    return out


def _gap_deltas(clean_reps: dict, gap_groups: list[str], *, level: float) -> dict:
    """Change of every max − min gap (groups fixed by each model's point estimate) and of the
    equalized-odds difference, paired over the same resamples."""
    from harness.metrics.paired_stats import delta_entry, nan_spread

    out = gap_deltas(clean_reps, gap_groups, CELL_METRICS, level=level)
    if out["status"] != "ok":
        return out
    eod = []
    for k in (0, 1):
        tpr = np.stack([clean_reps[g][k]["sensitivity"] for g in gap_groups])
        fpr = 1.0 - np.stack([clean_reps[g][k]["specificity"] for g in gap_groups])
        eod.append(np.maximum(nan_spread(tpr), nan_spread(fpr)))
    out["equalized_odds_difference"] = delta_entry(
        eod[0], eod[1], higher_is_better=False, level=level, n=None,
        why="TPR or FPR undefined for either model")
    return out


def _threshold_shifts(gr_b: Mapping, gr_c: Mapping, groups: list[str], tb: float,
                      tc: float) -> dict:
    def shift(b, c):
        b = b if isinstance(b, (int, float)) else None
        c = c if isinstance(c, (int, float)) else None
        return {"baseline": b, "candidate": c,
                "shift": None if b is None or c is None else float(c - b)}

    def cell(key):
        tb_ = (gr_b.get("thresholds") or {})
        tc_ = (gr_c.get("thresholds") or {})
        b = tb_.get("overall") if key is None else (tb_.get("groups") or {}).get(key)
        c = tc_.get("overall") if key is None else (tc_.get("groups") or {}).get(key)
        b, c = b or {}, c or {}
        if b.get("status") != "ok" or c.get("status") != "ok":
            return {"status": "insufficient",
                    "reason": b.get("reason") or c.get("reason") or "no threshold curve"}
        return {"status": "ok",
                "best_macro_f1": shift((b.get("best_macro_f1") or {}).get("threshold"),
                                       (c.get("best_macro_f1") or {}).get("threshold")),
                "for_target_sensitivity": shift(
                    (b.get("for_target_sensitivity") or {}).get("threshold"),
                    (c.get("for_target_sensitivity") or {}).get("threshold"))}

    return {"operating": shift(tb, tc),
            "target_sensitivity": (gr_b.get("thresholds") or {}).get("target_sensitivity"),
            "overall": cell(None), "groups": {g: cell(g) for g in groups}}


# ---------------------------------------------------------------------------------- summary
def _num(x, signed=False) -> str:
    if not isinstance(x, (int, float)):
        return "undefined"
    return f"{x:+.3f}" if signed else f"{x:.3f}"


def _ci(ci) -> str:
    return f" [{ci[0]:+.3f}, {ci[1]:+.3f}]" if ci else ""


def summary_lines(comparison: Mapping) -> list[str]:
    """One-line findings: the pairing, headline deltas, McNemar, group changes, mCE."""
    b, c = comparison["baseline"], comparison["candidate"]
    ds = comparison["dataset"]
    lines = [f"compare: baseline {b['model']} (threshold {b['threshold']:.3f}) vs candidate "
             f"{c['model']} (threshold {c['threshold']:.3f}) on the same {ds['n_images']} images "
             f"(fingerprint {str(ds['fingerprint'])[:12]})"]
    gr = (comparison.get("groupings") or {}).get("group") or \
        next(iter((comparison.get("groupings") or {}).values()), None)
    if not gr:
        return lines
    overall = gr["deltas"]["overall"]
    for metric in (m for m in HEADLINE if m in overall):   # a K-class comparison: the macro ones
        e = overall[metric]
        lines.append(f"{metric}: {_num(e['baseline'])} -> {_num(e['candidate'])}, "
                     f"delta {_num(e['delta'], True)}{_ci(e['ci'])} ({e['change']})")
    m = gr["mcnemar"]["overall"]
    stat = f", chi2 {m['statistic']:.2f}" if m["statistic"] is not None else ""
    lines.append(f"McNemar: candidate alone right on {m['candidate_only_correct']}, baseline alone "
                 f"on {m['baseline_only_correct']} of {m['n']} images; {m['method']}{stat}, "
                 f"p = {m['p_value']:.3g}")
    for grouping, g in (comparison.get("groupings") or {}).items():
        # many group x metric intervals: some exclude 0 by chance alone (about 1 in 20 at 95%)
        judged = [c for c, d in (g["deltas"].get("groups") or {}).items()
                  if d.get("status") == "ok"]
        n_tests = len(judged) * len(HEADLINE)
        for kind in ("worse", "better"):
            hits = [x for x in g["changes"] if x["change"] == kind and x["group"] is not None
                    and x["metric"] in HEADLINE]
            if hits:
                lines.append(f"{kind} ({grouping}, {len(hits)} of {n_tests} group comparisons; "
                             f"about {n_tests / 20:.1f} would by chance): " + "; ".join(
                                 f"{x['group']} {x['metric']} {_num(x['delta'], True)}{_ci(x['ci'])}"
                                 for x in hits))
    ce = gr.get("corruption_error") or {}
    if ce.get("status") == "ok":
        mce = ce["overall"]["mce"]
        if mce["value"] is not None:
            ci = f" [{mce['ci'][0]:.3f}, {mce['ci'][1]:.3f}]" if mce["ci"] else ""
            lines.append(f"mCE of the candidate relative to the baseline: {mce['value']:.3f}{ci} "
                         f"(< 1: fewer errors under the perturbations)")
    return lines


def read_comparison(path: str | Path) -> dict:
    """Read a ``comparison.json`` (or the folder holding it)."""
    p = Path(path)
    p = p / COMPARISON_FILE if p.is_dir() else p
    try:
        data = json.loads(p.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise UserError(f"{p}: not a readable {COMPARISON_FILE} ({type(exc).__name__})") from exc
    if not isinstance(data, dict) or data.get("schema") != SCHEMA_ID:
        raise UserError(f"{p}: not a DermaTrace comparison (schema {data.get('schema')!r})")
    return data
