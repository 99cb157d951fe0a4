"""The robustness section: what each perturbation asked for and achieved, metric and flip-rate
curves by severity, flip rates and drops per group, and one image across the ladder."""
from __future__ import annotations

import math
from typing import Any

import pandas as pd

from reports import fmt, plots
from reports.assets import Thumbnails
from reports.views.common import (CLEAN, as_dict, as_list, ci_level, dig, group_order, grouping_title,
                                  groupings, headline_grouping, metric_name, text)
from reports.views.strips import strips

ACHIEVED_ORDER = ("dL", "da", "db", "dITA", "hf_loss", "area")
ACHIEVED_NAMES = {"dL": "ΔL*", "da": "Δa*", "db": "Δb*", "dITA": "ΔITA (°)", "hf_loss": "HF loss",
                  "area": "area covered"}


def robustness(results: dict, samples: pd.DataFrame | None, thumbs: Thumbnails | None, *,
               strip_images: int = 2) -> dict | None:
    """The ladder table, severity curves, flip and drop tables of the headline grouping, and the
    strips of ``strip_images`` images; None without perturbations or robustness numbers."""
    variants = [v for v in as_list(dig(results, "perturbations", "variants")) if isinstance(v, dict)]
    name = headline_grouping(results)
    gr = groupings(results).get(name, {}) if name else {}
    if not variants and not as_dict(gr.get("robustness")):
        return None
    view: dict[str, Any] = {"grouping": grouping_title(name, results) if name else ""}
    view.update(ladder(variants))
    if gr:
        order = group_order(gr)
        families = _families(results)
        ok = [g for g in order if dig(gr, "status", g, "status", default="ok") == "ok"]
        view["curves"] = _severity_plots(gr, families, ok, order, level=ci_level(results))
        view["flip_groups"] = [{"name": g, "n": fmt.integer(dig(gr, "status", g, "n"))} for g in order]
        view["flips"] = _flip_rows(gr, order)
        view["drops"] = _drop_rows(gr, order, families)
        view["insufficient"] = [f"{g} (n={fmt.integer(dig(gr, 'status', g, 'n'))})" for g in order if g not in ok]
    view["strips"] = strips(results, samples, thumbs, limit=strip_images)
    return view


def ladder(variants: list[dict]) -> dict:
    """``{"ladder": rows, "fields": headings}``: per variant what was requested and the achieved
    change (mean, 5th to 95th percentile, n) of every measure any variant has."""
    def is_summary(x):
        return isinstance(x, dict) and ("mean" in x or "median" in x)

    fields = [k for k in ACHIEVED_ORDER if any(is_summary(as_dict(v.get("achieved")).get(k)) for v in variants)]
    fields += sorted({k for v in variants for k, x in as_dict(v.get("achieved")).items()
                      if k not in fields and is_summary(x)})
    rows = []
    for v in variants:
        ach = as_dict(v.get("achieved"))
        ns = {as_dict(ach.get(k)).get("n") for k in fields if isinstance(ach.get(k), dict)}
        common = ns.pop() if len(ns) == 1 else None
        cells = []
        for k in fields:
            a = ach.get(k)
            if isinstance(a, dict) and fmt.is_number(a.get("mean")):
                rng = (f"{fmt.num(a.get('p05'), 2)} to {fmt.num(a.get('p95'), 2)}"
                       if fmt.is_number(a.get("p05")) and fmt.is_number(a.get("p95")) else "")
                cells.append({"value": fmt.num(a["mean"], 2), "range": rng,
                              "n": "" if common is not None else f"n={fmt.integer(a.get('n'))}"})
            else:
                cells.append({"value": fmt.DASH, "range": "", "n": ""})
        rows.append({"name": text(v.get("name")), "family": text(v.get("family")),
                     "severity": text(v.get("severity")), "requested": fmt.params(v.get("requested")),
                     "n": fmt.integer(common) if common is not None else "", "cells": cells})
    return {"ladder": rows, "fields": [ACHIEVED_NAMES.get(k, k) for k in fields]}


def _families(results: dict) -> dict[str, list[int]]:
    fams = as_dict(dig(results, "metrics", "families"))
    if fams:
        return {str(f): [int(s) for s in as_list(sv) if fmt.is_number(s)] for f, sv in fams.items()}
    out: dict[str, list[int]] = {}
    for v in as_list(dig(results, "perturbations", "variants")):
        if isinstance(v, dict) and v.get("family") is not None and fmt.is_number(v.get("severity")):
            out.setdefault(str(v["family"]), []).append(int(v["severity"]))
    return {f: sorted(s) for f, s in out.items()}


def _variant_name(family: str, sev: int) -> str:
    return CLEAN if sev == 0 else f"{family}@{sev}"


def _severity_plots(gr: dict, families: dict[str, list[int]], groups: list[str],
                    order: list[str], *, level: str) -> list[dict]:
    """Balanced accuracy (severity 0 = clean) and flip rate by severity: a panel per family, a line
    per group with enough images to judge (colour = the group's place in ``order``), interval
    bands. A group too small to judge has no line: a curve has no interval at every point."""
    if not families or not any(families.values()):
        return []
    out = []
    bands = f"{level + ' ' if level else ''}interval bands"
    specs = (("balanced_accuracy", "metric",
              f"Balanced accuracy by severity (0 = clean) per skin-tone group, with {bands}."),
             ("flip_rate", "robustness",
              f"Share of predictions that change, by severity, per skin-tone group, with {bands}."))
    top_sev = max(max(s) for s in families.values() if s)
    # the overall line too is drawn only when judged (a run smaller than the small-group rule)
    judged_overall = dig(gr, "variants", CLEAN, "overall", "status", default="ok") == "ok"
    lines = ([(7, None)] if judged_overall else []) + [
        (order.index(g) if g in order else i, g) for i, g in enumerate(groups)]
    for key, source, caption in specs:
        label = metric_name(key)
        panels = []
        lows: list[float] = []
        for fam, sevs in families.items():
            xs = ([0] if source == "metric" else []) + list(sevs)
            series = []
            for idx, g in lines:
                ys, lo, hi = [], [], []
                for s in xs:
                    vname = _variant_name(fam, s)
                    where = ("overall",) if g is None else ("groups", g)
                    if source == "metric":
                        m = dig(gr, "variants", vname, *where, "metrics", key)
                    else:
                        m = dig(gr, "robustness", vname, *where, key)
                    m = as_dict(m)
                    ci = m.get("ci") if isinstance(m.get("ci"), list) and len(m["ci"]) == 2 else [None, None]
                    ys.append(m.get("value"))
                    lo.append(ci[0])
                    hi.append(ci[1])
                if any(fmt.is_number(y) for y in ys):
                    lows += [float(v) for v in (lo if g is not None or not groups else ys) if fmt.is_number(v)]
                    band = g is not None or not groups   # the overall band only when it is alone
                    series.append({"label": "overall" if g is None else g, "style": idx, "x": xs, "y": ys,
                                   "lo": lo if band else None, "hi": hi if band else None})
            panels.append({"title": fam, "series": series})
        if not any(p["series"] for p in panels):
            continue
        if key == "flip_rate":
            ylim = None
        else:
            floor = min(lows) if lows else 0.0
            ylim = (max(0.0, math.floor((floor - 0.02) * 10) / 10), 1.01)
        out.append({"title": caption,
                    "plot": plots.line_panels(panels, xlabel="severity", ylabel=label.lower(), ylim=ylim,
                                              xticks=range(0 if source == "metric" else 1, top_sev + 1))})
    return out


def _flip_rows(gr: dict, order: list[str]) -> list[dict]:
    rows = []
    for vname, rob in as_dict(gr.get("robustness")).items():
        if not isinstance(rob, dict) or not isinstance(rob.get("overall"), dict):
            continue
        ov = as_dict(rob.get("overall"))
        cells = []
        for g in order:
            c = as_dict(dig(rob, "groups", g))
            cells.append(fmt.estimate(c.get("flip_rate"), status=c.get("status"), status_n=c.get("n"),
                                      reason=c.get("reason")))
        counts = as_dict(ov.get("counts"))
        rows.append({"variant": vname, "overall": fmt.estimate(ov.get("flip_rate"), status=ov.get("status"),
                                                               status_n=ov.get("n"), reason=ov.get("reason")),
                     "cells": cells,
                     "r2w": fmt.integer(counts.get("right_to_wrong")), "w2r": fmt.integer(counts.get("wrong_to_right")),
                     "flips": fmt.integer(counts.get("flips")), "n": fmt.integer(ov.get("n"))})
    return rows


def _drop_rows(gr: dict, order: list[str], families: dict[str, list[int]]) -> list[dict]:
    rows = []
    for fam, sevs in families.items():
        if not sevs:
            continue
        vname = _variant_name(fam, max(sevs))
        rob = as_dict(dig(gr, "robustness", vname))
        if not rob:
            continue
        cells = []
        for g in order:
            c = as_dict(dig(rob, "groups", g))
            cells.append(fmt.estimate(dig(c, "drop", "balanced_accuracy", "absolute"), status=c.get("status"),
                                      status_n=c.get("n"), reason=c.get("reason"), signed=True))
        ov = as_dict(rob.get("overall"))
        rows.append({"variant": vname, "overall": fmt.estimate(dig(ov, "drop", "balanced_accuracy", "absolute"),
                                                               status=ov.get("status"), status_n=ov.get("n"),
                                                               reason=ov.get("reason"), signed=True),
                     "cells": cells})
    return rows
