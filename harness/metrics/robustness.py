"""Robustness of each variant against the clean images: flips, |Δp|, metric drops, severity curves,
corruption error against a reference run and the mean flip rate.

Flip statistics and drops are paired: they use the same resamples for clean and variant.
"""
from __future__ import annotations

import numpy as np

from .bootstrap import percentile_interval
from .catalogue import CATALOGUE, names
from .entries import as_list, by_cell, fnum, gap_entry, metric_entry
from .replicates import FLIP_STATS, Replicates
from harness.results.variants import split_variant

#: Metrics whose clean − variant drop is computed (the bases of the catalogue's drop metrics).
DROP_METRICS: tuple[str, ...] = tuple(dict.fromkeys(CATALOGUE[m].source[0] for m in names(where="drop")))
CURVE_METRICS: tuple[str, ...] = ("balanced_accuracy", "roc_auc", "flip_rate")


def family_members(variants: list[str]) -> dict[str, list[tuple]]:
    """family -> [(severity, variant index)] sorted by severity."""
    out: dict[str, list] = {}
    for i, v in enumerate(variants):
        fs = split_variant(v)
        if fs is not None:
            out.setdefault(fs[0], []).append((fs[1], i))
    return {f: sorted(m) for f, m in out.items()}


def _interval(rep: np.ndarray, level: float):
    lo, hi, nu = percentile_interval(rep[..., 1:], level=level, axis=-1)
    return rep[..., 0], lo, hi, nu


def robustness_by_variant(rep: Replicates, *, insufficient: list[str | None], level: float,
                          n_boot: int, drop_metrics: tuple[str, ...] = DROP_METRICS) -> dict:
    """{variant: {"overall": ROB, "groups": {group: ROB}}} for every variant except clean; a cell
    too small to judge has ``status: "insufficient"`` and its reason, with the same numbers.
    ``drop_metrics``: the names on ``rep.metric_names`` whose clean − variant drop is given."""
    flips = _interval(rep.flips, level)
    mi = [rep.metric_names.index(m) for m in drop_metrics]
    clean = rep.values[0][:, mi]                        # (C, 2, R)
    var = rep.values[:, :, mi]                          # (V, C, 2, R)
    absolute = clean[None] - var
    with np.errstate(invalid="ignore", divide="ignore"):
        relative = np.where(clean[None] != 0, absolute / clean[None], np.nan)
    d_abs = _interval(absolute, level)
    d_rel = _interval(relative, level)
    out = {}
    for v, variant in enumerate(rep.variants):
        if v == 0:
            continue
        cells = []
        for c in range(len(rep.cells)):
            n = int(rep.members[c].size)
            fc = rep.flip_counts[v, c]
            counts = {"flips": int(fc[0]), "right_to_wrong": int(fc[1]),
                      "wrong_to_right": int(fc[2])}
            # a cell too small to judge gets its numbers too; its status keeps it out of gates
            entry = {"status": "insufficient" if insufficient[c] else "ok",
                     "reason": insufficient[c], "n": n, "counts": counts}
            for k, stat in enumerate(FLIP_STATS):
                point, lo, hi, nu = flips
                entry[stat] = metric_entry(
                    value=point[v, c, k], n=n, lo=lo[v, c, k], hi=hi[v, c, k],
                    n_undef=int(nu[v, c, k]), n_boot=n_boot, level=level,
                    undefined_reason="no images",
                    successes=fc[k] if k < 3 else None)
            entry["drop"] = {}
            for j, m in enumerate(drop_metrics):
                why = f"{m} undefined on clean or variant"
                entry["drop"][m] = {
                    "absolute": _m(d_abs, (v, c, j), n, n_boot, why),
                    "relative": _m(d_rel, (v, c, j), n, n_boot, f"{why}, or 0 on clean"),
                }
            cells.append(entry)
        out[variant] = by_cell(rep.cells, cells)
    return out


def _m(stat, ix, n, n_boot, why) -> dict:
    point, lo, hi, nu = stat
    g = gap_entry(point[ix], lo[ix], hi[ix], int(nu[ix]), n_boot, undefined_reason=why)
    return {"value": g["value"], "ci": g["ci"], "n": n,
            "ci_method": "bootstrap" if g["ci"] is not None else None, "reason": g["reason"]}


def severity_curves(rep: Replicates, *, insufficient: list[str | None], level: float,
                    n_boot: int) -> dict:
    """{family: SEVERITY} — metric vs severity (0 = clean) and the normalised area under it."""
    out = {}
    for family, members in family_members(rep.variants).items():
        vidx = [0] + [v for _, v in members]
        x = np.array([0.0] + [float(s) for s, _ in members])
        series = {
            "balanced_accuracy": rep.values[vidx][:, :, rep.metric_names.index("balanced_accuracy")],
            "roc_auc": rep.values[vidx][:, :, rep.metric_names.index("roc_auc")],
            "flip_rate": rep.flips[vidx][:, :, FLIP_STATS.index("flip_rate")],
        }                                                   # each (S+1, C, R)
        span = x[-1] - x[0]
        areas = {k: _interval(np.trapezoid(s, x, axis=0) / span if span > 0 else s[0], level)
                 for k, s in series.items()}                # each (C, R) -> point/lo/hi
        cells = []
        for c in range(len(rep.cells)):
            if insufficient[c]:
                cells.append({"status": "insufficient", "reason": insufficient[c]})
                continue
            curve = {"status": "ok", "reason": None}
            for k, s in series.items():
                curve[k] = as_list(s[:, c, 0])
            curve["area"] = {
                k: gap_entry(a[0][c], a[1][c], a[2][c], int(a[3][c]), n_boot,
                             undefined_reason=f"{k} undefined at some severity")
                for k, a in areas.items()}
            cells.append(curve)
        out[family] = {"severities": [0] + [s for s, _ in members], **by_cell(rep.cells, cells)}
    return out


def _ref_balanced_accuracy(reference: dict, grouping: str, variant: str, c: int,
                           cells: list[str]) -> float | None:
    """Balanced accuracy of cell ``c`` (0 = overall) of a variant in the reference run, or None."""
    try:
        gv = reference["groupings"][grouping]["variants"][variant]
        c = gv["overall"] if c == 0 else gv["groups"][cells[c]]
        if c.get("status") != "ok":
            return None
        return fnum(c["metrics"]["balanced_accuracy"]["value"])
    except (KeyError, TypeError):
        return None


def corruption_error(rep: Replicates, *, insufficient: list[str | None], grouping: str,
                     reference: dict | None) -> dict:
    """The CE object: mCE-style corruption error (error = 1 - balanced accuracy) vs a reference."""
    if reference is None:
        return {"status": "skipped", "reason": "no reference run given"}
    if not isinstance(reference, dict) or "groupings" not in reference:
        raise ValueError("reference must be the 'metrics' section of another run's results.json")
    fams = family_members(rep.variants)
    ba = rep.metric_names.index("balanced_accuracy")
    cells = []
    for c, cell in enumerate(rep.cells):
        if insufficient[c]:
            cells.append(None)
            continue
        ce, rce = {}, {}
        err0 = 1.0 - rep.values[0, c, ba, 0]
        ref0 = _ref_balanced_accuracy(reference, grouping, "clean", c, rep.cells)
        for family, members in fams.items():
            e, r = [], []
            for _, v in members:
                ref = _ref_balanced_accuracy(reference, grouping, rep.variants[v], c, rep.cells)
                val = rep.values[v, c, ba, 0]
                if ref is None or np.isnan(val):
                    continue
                e.append(1.0 - val)
                r.append(1.0 - ref)
            if not e:
                ce[family] = rce[family] = None
                continue
            ce[family] = fnum(sum(e) / sum(r)) if sum(r) > 0 else None
            if ref0 is None or np.isnan(err0):
                rce[family] = None
            else:
                den = sum(x - (1.0 - ref0) for x in r)
                rce[family] = fnum(sum(x - err0 for x in e) / den) if den > 0 else None
        cv = [v for v in ce.values() if v is not None]
        rv = [v for v in rce.values() if v is not None]
        cells.append({"ce": ce, "relative_ce": rce,
                      "mce": float(np.mean(cv)) if cv else None,
                      "relative_mce": float(np.mean(rv)) if rv else None})
    return {"status": "ok", "reason": None,
            "error": "1 - balanced_accuracy",
            **by_cell(rep.cells, cells)}


def _ref_flip_rate(reference: dict, grouping: str, variant: str, c: int, cells: list[str]) -> float | None:
    """Flip rate of cell ``c`` (0 = overall) of a variant in the reference run, or None."""
    try:
        rob = reference["groupings"][grouping]["robustness"][variant]
        cell = rob["overall"] if c == 0 else rob["groups"][cells[c]]
        if cell.get("status") != "ok":
            return None
        return fnum(cell["flip_rate"]["value"])
    except (KeyError, TypeError):
        return None


def mean_flip_rate(rep: Replicates, *, insufficient: list[str | None], grouping: str,
                   reference: dict | None) -> dict:
    """The MFR object: SAM-C's mean flip rate (a family's flip rate averaged over its severities,
    then over families) and, against a reference run, Hendrycks and Dietterich's relative one
    (a family's Σ_s FR_s / Σ_s FR_s(reference), averaged over families)."""
    if reference is not None and (not isinstance(reference, dict) or "groupings" not in reference):
        raise ValueError("reference must be the 'metrics' section of another run's results.json")
    fams = family_members(rep.variants)
    k = FLIP_STATS.index("flip_rate")
    cells = []
    for c in range(len(rep.cells)):
        if insufficient[c]:
            cells.append(None)
            continue
        fr, rfr = {}, {}
        for family, members in fams.items():
            own = [float(rep.flips[v, c, k, 0]) for _, v in members]
            own = [x for x in own if not np.isnan(x)]
            fr[family] = fnum(np.mean(own)) if own else None
            if reference is None:
                continue
            e, r = [], []
            for _, v in members:
                ref = _ref_flip_rate(reference, grouping, rep.variants[v], c, rep.cells)
                val = rep.flips[v, c, k, 0]
                if ref is not None and not np.isnan(val):
                    e.append(float(val))
                    r.append(ref)
            rfr[family] = fnum(sum(e) / sum(r)) if e and sum(r) > 0 else None
        fv = [v for v in fr.values() if v is not None]
        rv = [v for v in rfr.values() if v is not None]
        cells.append({"fr": fr, "mfr": float(np.mean(fv)) if fv else None,
                      "relative_fr": rfr if reference is not None else None,
                      "relative_mfr": float(np.mean(rv)) if rv else None})
    return {"status": "ok", "reason": None if reference is not None else "no reference run given: "
            "relative_fr and relative_mfr are null",
            **by_cell(rep.cells, cells)}
