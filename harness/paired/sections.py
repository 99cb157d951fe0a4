"""What both comparisons (binary and K-class runs) share: each model's own interval beside a
paired delta, the candidate's corruption error relative to the baseline, the change of Grad-CAM
drift."""
from __future__ import annotations

from collections.abc import Mapping

import numpy as np


def with_model_intervals(entry: dict, base: np.ndarray, cand: np.ndarray, *,
                          level: float) -> dict:
    """``entry`` plus each model's own interval over the same resamples (``baseline_ci``,
    ``candidate_ci``), so that no value in a comparison stands without one."""
    from harness.metrics.paired_stats import interval_entry

    for key, rep in (("baseline_ci", base), ("candidate_ci", cand)):
        entry[key] = interval_entry(rep, level=level, why="undefined")["ci"]
    return entry


def corruption_error_ratio(ba_reps: dict, groups: list[str], variants: list[str], *,
                      level: float) -> dict:
    """mCE-style corruption error of the candidate relative to the baseline, per cell, with
    paired intervals (error = 1 − balanced accuracy)."""
    from harness.metrics.paired_stats import interval_entry
    from harness.gates.evaluate import run_families

    fams = run_families(variants)
    if not fams:
        return {"status": "skipped", "reason": "no perturbation families in both runs"}

    def cell_ce(reps: dict) -> dict:
        eb0, ec0 = 1.0 - reps["clean"][0], 1.0 - reps["clean"][1]
        ce, rce = {}, {}
        with np.errstate(invalid="ignore", divide="ignore"):
            for fam, sevs in fams.items():
                eb = sum(1.0 - reps[f"{fam}@{s}"][0] for s in sevs)
                ec = sum(1.0 - reps[f"{fam}@{s}"][1] for s in sevs)
                ce[fam] = np.where(eb > 0, ec / np.where(eb > 0, eb, 1.0), np.nan)
                den = eb - len(sevs) * eb0
                num = ec - len(sevs) * ec0
                rce[fam] = np.where(den > 0, num / np.where(den > 0, den, 1.0), np.nan)
        out = {"ce": {}, "relative_ce": {}}
        for key, mean_key, table in (("ce", "mce", ce), ("relative_ce", "relative_mce", rce)):
            why = ("the baseline makes no error under this corruption" if key == "ce" else
                   "the baseline's error does not rise above its clean error")
            for fam, rep in table.items():
                out[key][fam] = interval_entry(rep, level=level, why=why)
            usable = [rep for rep in table.values() if np.isfinite(rep[0])]
            out[mean_key] = (interval_entry(np.mean(usable, axis=0), level=level,
                                             why="undefined for a family")
                              if usable else {"value": None, "ci": None,
                                              "reason": "undefined for every family"})
        return out

    return {"status": "ok", "reason": None, "error": "1 - balanced_accuracy",
            "families": {f: list(s) for f, s in fams.items()},
            "overall": cell_ce(ba_reps["overall"]),
            "groups": {g: cell_ce(ba_reps[g]) if g in ba_reps else None for g in groups}}


def drift_deltas(gb, gc, variants: list[str]) -> dict:
    """Change of the Grad-CAM drift medians (point values; per-image drift is not stored, so
    each run's own interval is shown instead of a paired one)."""
    for g in (gb, gc):
        if not isinstance(g, Mapping) or not g.get("available"):
            why = (g or {}).get("reason") if isinstance(g, Mapping) else None
            return {"available": False,
                    "reason": f"Grad-CAM drift is not in both runs ({why or 'not computed'})"}
    methods = [g.get("explainer", "gradcam") for g in (gb, gc)]
    if methods[0] != methods[1]:  # Grad-CAM drift and occlusion drift are different measures
        return {"available": False, "reason": f"the baseline is explained by {methods[0]}, the "
                f"candidate by {methods[1]}: their drift is not comparable"}
    common = [v for v in variants if v in (gb.get("drift") or {}) and v in (gc.get("drift") or {})]
    if not common:
        return {"available": False, "reason": "no perturbed variant has Grad-CAM drift in both runs"}

    def entry(b, c):
        b, c = b or {}, c or {}
        mb, mc = b.get("median"), c.get("median")
        return {"baseline": mb, "baseline_ci": b.get("median_ci"), "candidate": mc,
                "candidate_ci": c.get("median_ci"), "n": c.get("n"),
                "delta": None if mb is None or mc is None else float(mc - mb), "ci": None}

    out = {}
    for v in common:
        db, dc = gb["drift"][v], gc["drift"][v]
        metrics = [k for k in (db.get("metrics") or {}) if k in (dc.get("metrics") or {})]
        part = {"overall": {k: entry((db.get("overall") or {}).get("all", {}).get(k),
                                     (dc.get("overall") or {}).get("all", {}).get(k))
                            for k in metrics},
                "groups": {}}
        for g in sorted(set(db.get("by_group") or {}) & set(dc.get("by_group") or {})):
            part["groups"][g] = {k: entry(db["by_group"][g].get("all", {}).get(k),
                                          dc["by_group"][g].get("all", {}).get(k))
                                 for k in metrics}
        out[v] = part
    return {"available": True,
            "reason": "per-image drift is not stored in a run: deltas are of the two medians, "
                      "shown with each run's own interval",
            "variants": out}


def gap_deltas(reps: dict, gap_groups: list[str], metric_names, *, level: float) -> dict:
    """Change of each metric's max − min gap between ``gap_groups`` (the groups fixed by each
    model's point estimate), paired over the same resamples.

    ``reps[group][k][metric]`` is the (R,) replicate array of run ``k`` (0 baseline,
    1 candidate), the point estimate first. Returns ``{"status", "reason", "groups",
    "metrics": {metric: delta entry + "baseline_groups" / "candidate_groups"}}``.
    """
    from harness.metrics.paired_stats import delta_entry

    if len(gap_groups) < 2:
        return {"status": "insufficient", "groups": gap_groups, "metrics": {},
                "reason": f"fewer than 2 groups with enough evidence in both runs "
                          f"(got {len(gap_groups)})"}
    out = {"status": "ok", "reason": None, "groups": gap_groups, "metrics": {}}
    for metric in metric_names:
        gaps, pairs = [], []
        for k in (0, 1):
            r = np.stack([reps[g][k][metric] for g in gap_groups])   # (G, R)
            pts = r[:, 0]
            defined = ~np.isnan(pts)
            if defined.sum() < 2:
                gaps.append(np.full(r.shape[1], np.nan))
                pairs.append(None)
                continue
            imax = int(np.where(defined, pts, -np.inf).argmax())
            imin = int(np.where(defined, pts, np.inf).argmin())
            gaps.append(r[imax] - r[imin])
            pairs.append([gap_groups[imax], gap_groups[imin]])
        e = delta_entry(gaps[0], gaps[1], higher_is_better=False, level=level, n=None,
                        why=f"{metric} gap undefined for either model")
        out["metrics"][metric] = {**e, "baseline_groups": pairs[0], "candidate_groups": pairs[1]}
    return out


def not_tested(test: dict, why: str) -> dict:
    """A McNemar result of a cell too small to judge: its counts kept (they are facts), the test
    itself not reported."""
    return dict(test, status="insufficient", reason=why, method=f"not tested: {why}",
                statistic=None, p_value=None, favours=None)
