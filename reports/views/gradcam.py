"""The Grad-CAM section: where the model looks, the noise floor, the drift of the heatmaps
between clean and perturbed images, and the overlay gallery; the heatmaps are Grad-CAM's or, for
a model without gradients, occlusion's, and the section names which."""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pandas as pd

from reports import fmt
from reports.assets import Thumbnails
from reports.views.common import CLEAN, Rows, as_dict, as_list, dig, text


def gradcam(results: dict, samples: pd.DataFrame | None, thumbs: Thumbnails | None, *,
            gallery_limit: int = 24) -> dict | None:
    """The ``gradcam`` section as tables and at most ``gallery_limit`` overlays; None without it,
    ``{"available": False, "reason"}`` when it was not computed."""
    g = results.get("gradcam")
    if not isinstance(g, dict):
        return None
    if not g.get("available", True):
        return {"available": False, "reason": str(g.get("reason") or "not available")}
    attention = _summary_table(as_dict(g.get("attention")))
    attention_by_group = []
    by_group = as_dict(g.get("attention_by_group"))
    order = [str(x) for x in as_list(dig(results, "groups", "order"))]
    names = [x for x in order if x in by_group] + sorted(str(x) for x in by_group if str(x) not in order)
    for grp in names:
        shares = by_group.get(grp)
        if isinstance(shares, dict) and any(_is_stat(v) for v in shares.values()):
            attention_by_group.append({"group": grp, "cells": _summary_cells(shares, attention["columns"])})
    drift = drift_tables(as_dict(g.get("drift")), order)
    gallery = []
    rows = Rows(samples)
    if thumbs is not None:
        clean_keys = thumbs.keys_under("gradcam/clean")
        other = [d for d in _gradcam_dirs(thumbs) if d != CLEAN]
        for key in clean_keys[:gallery_limit]:
            i = int(key.rsplit("/", 1)[1]) if key.rsplit("/", 1)[1].isdigit() else None
            pairs = [{"name": CLEAN, "uri": thumbs.uri(key),
                      "p": fmt.num(rows.get(i, "p")) if i is not None else ""}]
            for d in other:
                uri = thumbs.uri(f"gradcam/{d}/{key.rsplit('/', 1)[1]}")
                if uri:
                    pairs.append({"name": d, "uri": uri,
                                  "p": fmt.num(rows.get(i, f"p[{d}]")) if i is not None else ""})
            gallery.append({"index": i, "file": text(rows.get(i, "file")) if i is not None else "",
                            "group": text(rows.get(i, "group")) if i is not None else "",
                            "label": text(rows.get(i, "label")) if i is not None else "",
                            "original": thumbs.uri(f"clean/{i}") if i is not None else None, "pairs": pairs})
    floor = drift_tables({f"no perturbation: {k}": v for k, v in as_dict(g.get("noise_floor")).items()},
                         overall_only=True)
    return {"available": True, "explainer": explainer_label(g),
            "layer": text(g.get("layer")) if g.get("layer") else "",
            "n_images": fmt.integer(g.get("n_images")),
            "method": str(g.get("method") or ""), "class_explained": str(g.get("class_explained") or ""),
            "noise_floor": floor[0] if floor else None,
            "selection": text(g.get("selection")) if g.get("selection") else "",
            "attention": attention, "attention_by_group": attention_by_group, "drift": drift,
            "gallery": gallery}


def explainer_label(section: dict) -> str:
    """The method's name as results.json gives it: "Grad-CAM" (``explainer`` "gradcam", or a run
    written before occlusion existed) or the occlusion label, e.g. "occlusion (grid 7×7, blurred
    baseline)"."""
    if section.get("explainer", "gradcam") == "gradcam":
        return "Grad-CAM"
    label = dig(section, "occlusion", "label")
    return str(label) if label else str(section.get("explainer"))


def drift_tables(drift: dict, order: Sequence[str] = (), *, overall_only: bool = False) -> list[dict]:
    """Drift per variant as ``harness.explain.attention.summarise_drift`` writes it.

    ``{variant: {"metrics": {name: kind}, "ci": level, "overall": {"all"|"held"|"flipped": S},
    "by_group": {group: {split: S}}}}`` with ``S = {"n", name: {n, median, q25, q75, median_ci,
    ...}}``. Tables: every metric over all selected images; held vs flipped and per group for the
    headline metric.
    """
    items = [(v, d) for v, d in drift.items() if isinstance(d, dict) and isinstance(d.get("overall"), dict)]
    if not items:
        return []
    kinds: dict[str, str] = {}
    for _, d in items:
        for k, kind in as_dict(d.get("metrics")).items():
            kinds.setdefault(str(k), str(kind))
        for k, v in as_dict(dig(d, "overall", "all")).items():
            if _is_stat(v):
                kinds.setdefault(str(k), "similarity")
    if not kinds:
        return []
    names = list(kinds)
    head = next((k for k in ("spearman", "cosine") if k in kinds), names[0])

    def col(k):
        return k.replace("_", " ")

    sims = [col(k) for k in names if kinds[k] == "similarity"]
    dists = [col(k) for k in names if kinds[k] != "similarity"]
    hint = "; ".join(x for x in (f"{', '.join(sims)}: similarity, 1 = unchanged" if sims else "",
                                 f"{', '.join(dists)}: distance, 0 = unchanged" if dists else "") if x)
    level = next((fmt.level(d.get("ci")) for _, d in items if fmt.level(d.get("ci"))), "")
    tables = [{
        "title": "Heatmap drift between clean and perturbed images",
        "caption": f"Median over the selected images, its {level + ' ' if level else ''}interval and n ({hint}).",
        "columns": [col(k) for k in names],
        "rows": [{"label": v, "cells": [_median_cell(dig(d, "overall", "all", k)) for k in names]}
                 for v, d in items],
    }]
    if overall_only:
        return tables
    tables.append({
        "title": f"Drift ({col(head)}) where the prediction held vs flipped",
        "caption": "An explanation should stay put when the answer stays, and move when it changes.",
        "columns": ["held", "flipped"],
        "rows": [{"label": v, "cells": [_median_cell(dig(d, "overall", split, head))
                                        for split in ("held", "flipped")]} for v, d in items],
    })

    def has(d, g):
        return isinstance(dig(d, "by_group", g, "all"), dict)

    groups: list[str] = [g for g in order if any(has(d, g) for _, d in items)]
    groups += sorted({str(g) for _, d in items for g in as_dict(d.get("by_group"))
                      if str(g) not in groups and has(d, g)})
    if groups:
        tables.append({
            "title": f"Drift ({col(head)}) per skin-tone group",
            "caption": "Median per group; groups with few selected images get no interval.",
            "columns": groups,
            "rows": [{"label": v, "cells": [_median_cell(dig(d, "by_group", g, "all", head)) for g in groups]}
                     for v, d in items],
        })
    return tables


def _gradcam_dirs(thumbs: Thumbnails) -> list[str]:
    root = thumbs.root / "gradcam"
    if not root.is_dir():
        return []
    return sorted(p.name for p in root.iterdir() if p.is_dir())


def _summary_table(d: dict) -> dict:
    """``{name: {"n", "mean", "median", "p05", "p95"} or M}`` -> columns + one row of cells."""
    columns = [k for k, v in d.items() if _is_stat(v)]
    return {"columns": columns, "labels": [c.replace("_", " ") for c in columns],
            "cells": _summary_cells(d, columns)}


def _summary_cells(d: dict, columns: list[str]) -> list[dict]:
    return [_stat_cell(as_dict(d.get(k))) for k in columns]


def _stat_cell(v: dict) -> dict:
    """A summary statistic (mean with p05-p95 and n) or a metric value (value, CI, n)."""
    if "value" in v:
        return fmt.estimate(v)
    if fmt.is_number(v.get("mean")):
        rng = (f"{fmt.num(v['p05'])}–{fmt.num(v['p95'])}"
               if fmt.is_number(v.get("p05")) and fmt.is_number(v.get("p95")) else "")
        return {"kind": "ok", "value": fmt.num(v["mean"]), "ci": rng, "n": f"n={fmt.integer(v.get('n'))}",
                "note": "mean; 5th–95th percentile" + (f"; median {fmt.num(v['median'])}"
                                                        if fmt.is_number(v.get("median")) else ""),
                "raw": float(v["mean"])}
    return {"kind": "missing", "value": fmt.DASH, "ci": "",
            "n": f"n={fmt.integer(v.get('n'))}" if "n" in v else "",
            "note": str(v.get("reason") or ""), "raw": None}


def _is_stat(v: Any) -> bool:
    return isinstance(v, dict) and ("value" in v or "mean" in v or "median" in v)


def _median_cell(v: Any) -> dict:
    """A drift statistic ``{n, median, q25, q75, median_ci, reason}`` as a report cell."""
    v = as_dict(v)
    if "median" not in v:
        return _stat_cell(v)
    iqr = (f"IQR {fmt.num(v['q25'])}–{fmt.num(v['q75'])}"
           if fmt.is_number(v.get("q25")) and fmt.is_number(v.get("q75")) else "")
    note = "; ".join(x for x in ("median", iqr, str(v.get("reason") or "")) if x)
    return fmt.estimate({"value": v.get("median"), "ci": v.get("median_ci"), "n": v.get("n"),
                         "reason": note})
