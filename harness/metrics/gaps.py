"""Between-group gaps with intervals from the same resamples as the cells.

For ``difference``/``ratio`` (max vs min group), ``first_vs_last`` and ``vs_overall`` the groups are
fixed by the point estimate and the interval is that contrast's percentile interval over the
resamples: it can cross 0, and an interval excluding 0 is a real gap. The equalized-odds difference
is a max-over-groups statistic and is recomputed whole in every resample.
"""
from __future__ import annotations

import numpy as np

from .bootstrap import percentile_interval
from .entries import gap_entry, too_few_groups
from .catalogue import CATALOGUE
from .replicates import Replicates

#: Why a K-class audit has no equalized-odds difference.
NO_EQUALIZED_ODDS = "a binary statistic: a K-class audit has no positive class"


def higher_is_better(name: str) -> bool:
    """Direction of a metric on the replicates' metric axis: a catalogue name, or
    ``"<per-class key>:<class>"`` (``"recall:benign"``) for a K-class audit's per-class metric."""
    if name in CATALOGUE:
        return CATALOGUE[name].higher_is_better
    return CATALOGUE[f"class_{name.split(':', 1)[0]}"].higher_is_better


def _ci(rep: np.ndarray, level: float):
    """Point (replicate 0) and percentile interval over replicates 1.. of the last axis."""
    lo, hi, n_undef = percentile_interval(rep[..., 1:], level=level, axis=-1)
    return rep[..., 0], lo, hi, n_undef


def _safe_ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    out = np.full(np.broadcast(num, den).shape, np.nan)
    np.divide(num, den, out=out, where=(den != 0) & ~np.isnan(den))
    return out


def _empty(groups: list[str], reason: str) -> dict:
    none = {"value": None, "ci": None, "reason": reason}
    return {
        "status": "insufficient", "reason": reason, "groups": groups, "metrics": {},
        "equalized_odds_difference": {**none, "tpr_difference": dict(none),
                                      "fpr_difference": dict(none)},
        "auc_gap": {"worst_group": None, "best_group": None, **none},
    }


def gaps_by_variant(rep: Replicates, *, gap_groups: list[str], level: float,
                    n_boot: int, rule: str | None = None) -> dict[str, dict]:
    """The GAPS object (see docs/results-schema.md) for every variant of one grouping; ``rule``
    (the small-group rule in words) goes into the reason when fewer than two groups qualify."""
    if len(gap_groups) < 2:
        reason = too_few_groups(gap_groups, rule)
        return {v: _empty(gap_groups, reason) for v in rep.variants}
    cidx = [1 + rep.cells[1:].index(g) for g in gap_groups]   # cell 0 is overall
    vals = rep.values[:, cidx]                    # (V, G, M, R)
    overall = rep.values[:, 0]                    # (V, M, R)
    pts = vals[..., 0]                            # (V, G, M)
    defined = ~np.isnan(pts)
    n_def = defined.sum(axis=1)                   # (V, M)
    imax = np.where(defined, pts, -np.inf).argmax(axis=1)
    imin = np.where(defined, pts, np.inf).argmin(axis=1)
    vmax = np.take_along_axis(vals, imax[:, None, :, None], axis=1)[:, 0]
    vmin = np.take_along_axis(vals, imin[:, None, :, None], axis=1)[:, 0]
    diff = _ci(vmax - vmin, level)
    ratio = _ci(_safe_ratio(vmin, vmax), level)
    fvl = _ci(vals[:, 0] - vals[:, -1], level)
    vs_d = _ci(vals - overall[:, None], level)
    vs_r = _ci(_safe_ratio(vals, overall[:, None]), level)

    names = rep.metric_names
    binary = "sensitivity" in names and "specificity" in names
    if binary:
        # Equalized odds: max(TPR spread, FPR spread) over groups, in every resample.
        t_spread = _nan_spread(vals[:, :, names.index("sensitivity")])          # (V, R)
        f_spread = _nan_spread(1.0 - vals[:, :, names.index("specificity")])
        eod = _ci(np.maximum(t_spread, f_spread), level)
        t_sp = _ci(t_spread, level)
        f_sp = _ci(f_spread, level)

    def entry(stat, *ix, why):
        point, lo, hi, nu = stat
        return gap_entry(point[ix], lo[ix], hi[ix], int(nu[ix]), n_boot, undefined_reason=why)

    out = {}
    first, last = gap_groups[0], gap_groups[-1]
    for v, variant in enumerate(rep.variants):
        per_metric = {}
        for m, name in enumerate(names):
            if n_def[v, m] < 2:
                why = f"{name} defined in fewer than 2 groups"
                per_metric[name] = _metric_gap_undefined(gap_groups, first, last, why)
                continue
            gmax, gmin = gap_groups[imax[v, m]], gap_groups[imin[v, m]]
            higher = higher_is_better(name)
            why = f"{name} undefined in a compared group"
            per_metric[name] = {
                "worst_group": gmin if higher else gmax,
                "best_group": gmax if higher else gmin,
                "max_group": gmax,
                "min_group": gmin,
                "difference": entry(diff, v, m, why=why),
                "ratio": entry(ratio, v, m, why=f"{name} of {gmax} is 0 or undefined"),
                "first_vs_last": {"first": first, "last": last,
                                  "difference": entry(fvl, v, m, why=why)},
                "vs_overall": {
                    g: {"difference": entry(vs_d, v, gi, m, why=why),
                        "ratio": entry(vs_r, v, gi, m, why=f"overall {name} is 0 or undefined")}
                    for gi, g in enumerate(gap_groups)
                },
            }
        auc = per_metric["roc_auc"]
        if binary:
            eod_entry = {
                **entry(eod, v, why="TPR or FPR undefined"),
                "tpr_difference": entry(t_sp, v, why="TPR undefined"),
                "fpr_difference": entry(f_sp, v, why="FPR undefined"),
            }
        else:
            none = {"value": None, "ci": None, "reason": NO_EQUALIZED_ODDS}
            eod_entry = {**none, "tpr_difference": dict(none), "fpr_difference": dict(none)}
        out[variant] = {
            "status": "ok", "reason": None, "groups": list(gap_groups),
            "metrics": per_metric,
            "equalized_odds_difference": eod_entry,
            "auc_gap": {"worst_group": auc.get("worst_group"), "best_group": auc.get("best_group"),
                        **auc["difference"]},
        }
    return out


def _nan_spread(x: np.ndarray) -> np.ndarray:
    """max - min over axis 1 ignoring NaN; NaN where fewer than 2 values are defined."""
    ok = ~np.isnan(x)
    hi = np.where(ok, x, -np.inf).max(axis=1)
    lo = np.where(ok, x, np.inf).min(axis=1)
    return np.where(ok.sum(axis=1) >= 2, hi - lo, np.nan)


def _metric_gap_undefined(groups: list[str], first: str, last: str, why: str) -> dict:
    none = {"value": None, "ci": None, "reason": why}
    return {"worst_group": None, "best_group": None, "max_group": None, "min_group": None,
            "difference": dict(none), "ratio": dict(none),
            "first_vs_last": {"first": first, "last": last, "difference": dict(none)},
            "vs_overall": {g: {"difference": dict(none), "ratio": dict(none)} for g in groups}}
