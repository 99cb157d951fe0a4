"""What several views share: safe access to the results, per-image rows, group order, skin-tone
scheme and swatches, the gap row, and the interval level."""
from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd

from harness.metrics.catalogue import display_name
from harness.metrics.entries import small_group_rule as judged_rule
from reports import colour, fmt

GROUP_GROUPING = "group"   # the grouping of the estimated skin tone
CLEAN = "clean"


def dig(d: Any, *keys: Any, default: Any = None) -> Any:
    """``d[k1][k2]...`` or ``default`` when any step is missing or not a mapping/list."""
    cur = d
    for k in keys:
        if isinstance(cur, Mapping) and k in cur:
            cur = cur[k]
        elif isinstance(cur, list) and isinstance(k, int) and -len(cur) <= k < len(cur):
            cur = cur[k]
        else:
            return default
    return cur


def as_dict(x: Any) -> dict:
    """``x`` when it is a dict, else an empty one."""
    return x if isinstance(x, dict) else {}


def as_list(x: Any) -> list:
    """``x`` when it is a list, else an empty one."""
    return x if isinstance(x, list) else []


def text(x: Any) -> str:
    """Any value as display text (None -> dash)."""
    if x is None:
        return fmt.DASH
    if isinstance(x, float):
        return fmt.num(x, 4) if math.isfinite(x) else fmt.DASH
    return str(x)


def metric_name(key: str) -> str:
    """How the report names a metric (the catalogue's display name)."""
    return display_name(key)


class Rows:
    """Per-image facts from samples.csv (row i = image i), with safe access."""

    def __init__(self, samples: pd.DataFrame | None):
        self.df = samples
        self.n = 0 if samples is None else len(samples)

    def get(self, i: int, col: str) -> Any:
        """The value of column ``col`` for image ``i``; None when either is missing or it is NaN."""
        if self.df is None or col not in self.df.columns or not 0 <= i < self.n:
            return None
        v = self.df[col].iat[i]
        if isinstance(v, float) and not math.isfinite(v):
            return None
        return v.item() if hasattr(v, "item") else v


def ci_level(results: dict) -> str:
    """The level of the run's intervals, ``"95%"`` (``metrics.settings.ci_level``); ``""`` when the
    results do not state one."""
    return fmt.level(dig(results, "metrics", "settings", "ci_level"))


def scheme_view(results: dict) -> dict:
    """The skin-tone scheme: name, cut points (decreasing) and source, from ``groups.scheme_info``
    (the name falls back to ``groups.scheme``)."""
    groups = as_dict(results.get("groups"))
    info = as_dict(groups.get("scheme_info"))
    raw = groups.get("scheme")
    name = str(info.get("name") or (raw if isinstance(raw, str) else "") or "")
    cuts = [float(c) for c in as_list(info.get("cuts")) if fmt.is_number(c)]
    return {"name": name, "cuts": cuts, "source": str(info.get("source") or "")}


def grouping_title(name: str, results: dict) -> str:
    """``"Estimated skin tone (ITA, chardon6)"`` or ``"fitzpatrick (label)"``."""
    if name == GROUP_GROUPING:
        scheme = scheme_view(results)["name"]
        return f"Estimated skin tone (ITA{', ' + scheme if scheme else ''})"
    return f"{name} (label)"


def group_swatches(results: dict, grouping: str, groups: Sequence[str]) -> dict[str, str | None]:
    """``#rrggbb`` per group: for the estimated skin tone the group's median L*, b* when measured,
    else its median ITA (``groups.ita.per_group``), and none for ``unknown``; for a label grouping
    the median ITA of its images (``findings.label_group_ita``)."""
    out: dict[str, str | None] = {}
    per_group = as_dict(dig(results, "groups", "ita", "per_group"))
    labelled = as_dict(dig(results, "findings", "label_group_ita", grouping))
    for g in groups:
        sw = None
        if grouping == GROUP_GROUPING and g == "unknown":
            pass   # an ITA measured over too little or too uneven skin paints nothing
        elif grouping == GROUP_GROUPING:
            pg = as_dict(per_group.get(g))
            if pg:
                sw = colour.swatch(ita=pg.get("ita_median") if fmt.is_number(pg.get("ita_median")) else None,
                                   L=pg.get("L_median") if fmt.is_number(pg.get("L_median")) else None,
                                   b=pg.get("b_median") if fmt.is_number(pg.get("b_median")) else None)
        elif fmt.is_number(labelled.get(g)):
            sw = colour.swatch(ita=float(labelled[g]))
        out[g] = sw
    return out


def groupings(results: dict) -> dict[str, dict]:
    """``metrics.groupings`` (the mappings only)."""
    return {k: v for k, v in as_dict(dig(results, "metrics", "groupings")).items() if isinstance(v, dict)}


def headline_grouping(results: dict) -> str | None:
    """The grouping the summary speaks of: the estimated skin tone, else the first one."""
    grs = groupings(results)
    return GROUP_GROUPING if GROUP_GROUPING in grs else next(iter(grs), None)


def group_order(gr: dict) -> list[str]:
    """A grouping's groups in display order."""
    groups = [str(g) for g in as_list(gr.get("groups"))]
    if not groups:
        groups = [str(g) for g in as_dict(dig(gr, "variants", CLEAN, "groups"))]
    return groups


def small_group_rule(results: dict) -> str:
    """The rule a group must meet to be judged, ``"at least 30 images and 10 of each class"``
    (``metrics.settings.min_n`` and ``min_per_class``); ``""`` when the results do not state it."""
    settings = as_dict(dig(results, "metrics", "settings"))
    if not fmt.is_number(settings.get("min_n")):
        return ""
    per_class = settings.get("min_per_class") if fmt.is_number(settings.get("min_per_class")) else 0
    return judged_rule(int(settings["min_n"]), int(per_class))


def status_n(gr: dict, g: str, cell: dict | None = None) -> Any:
    """The n of group ``g``: from its cell, else from the grouping's status."""
    cell = cell or {}
    return cell.get("n", dig(gr, "status", g, "n"))


def gap_row(key: str, gm: dict, cells: dict, gr: dict) -> dict:
    """One row of a gap table: worst and best group with their values, difference, ratio, first − last."""
    diff = as_dict(gm.get("difference"))
    ratio = as_dict(gm.get("ratio"))
    fvl = as_dict(gm.get("first_vs_last"))
    worst, best = gm.get("worst_group"), gm.get("best_group")

    def gn(g):
        return f"{g} (n={fmt.integer(status_n(gr, str(g), cells.get(g)))})" if g is not None else fmt.DASH

    return {
        "metric": metric_name(key), "key": key,
        "worst": gn(worst), "worst_value": fmt.num(dig(cells, worst, "metrics", key, "value")),
        "best": gn(best), "best_value": fmt.num(dig(cells, best, "metrics", key, "value")),
        "difference": fmt.estimate(diff), "ratio": fmt.estimate(ratio),
        "first_vs_last": fmt.estimate(as_dict(fvl.get("difference")), signed=True),
        "first_vs_last_label": f"{fvl.get('first')} − {fvl.get('last')}" if fvl.get("first") else "",
        "real": fmt.excludes_zero(diff.get("ci")),
    }


def matrix_view(matrix: list, row_labels: list[str], col_labels: list[str]) -> dict:
    """A count matrix with a shade per cell (darker = more)."""
    flat = [v for r in matrix for v in r if fmt.is_number(v)]
    peak = max(flat) if flat else 0
    rows = []
    for i, r in enumerate(matrix):
        cells = []
        for v in r:
            level = (float(v) / peak) if peak and fmt.is_number(v) else 0.0
            cells.append({"n": fmt.integer(v), "shade": f"{0.08 + 0.6 * level:.2f}"})
        rows.append({"label": row_labels[i] if i < len(row_labels) else str(i), "cells": cells})
    return {"columns": col_labels[:len(matrix[0]) if matrix else 0], "rows": rows}


def slug(s: str) -> str:
    """An HTML id fragment: ``"Fitzpatrick 3"`` -> ``"fitzpatrick-3"``."""
    out = "".join(c if c.isalnum() else "-" for c in str(s).lower()).strip("-")
    return out or "x"
