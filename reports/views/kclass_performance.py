"""The performance section of a K-class audit: per grouping, the macro metrics of every group on
the clean images, a per-class table (recall, precision, F1, one-vs-rest AUC), the K×K confusion
matrices per group and the gaps between groups."""
from __future__ import annotations

from harness.metrics.catalogue import KCLASS_CELL_METRICS
from reports import fmt
from reports.views.common import (CLEAN, as_dict, as_list, dig, gap_row, group_order,
                                  group_swatches, grouping_title, groupings, matrix_view,
                                  metric_name, slug, small_group_rule, status_n)

#: Per-class columns: (key in ``classes.<name>``, heading).
CLASS_COLUMNS: tuple[tuple[str, str], ...] = (
    ("recall", "Recall"), ("precision", "Precision"), ("f1", "F1"), ("roc_auc", "One-vs-rest AUC"))
#: The macro metrics whose between-group gaps the section shows, and the per-class one.
GAP_METRICS: tuple[str, ...] = ("balanced_accuracy", "macro_f1", "roc_auc", "top_label_ece")
CLASS_GAP_KEY = "recall"


def is_kclass(results: dict) -> bool:
    """Whether ``results`` are a K-class audit's (``metrics.audit == "kclass"``)."""
    return dig(results, "metrics", "audit") == "kclass"


def kclass_performance(results: dict) -> dict | None:
    """``{"kclass": True, "groupings": [view per grouping]}`` (None without metrics).

    A group too small to judge keeps its rows, each estimate with its interval and the mark
    ``fmt.TOO_FEW``; so does a class with too few images in a group (its own reason)."""
    grs = groupings(results)
    names = [str(c) for c in as_list(dig(results, "metrics", "class_names"))]
    if not grs or not names:
        return None
    present = set(dig(results, "metrics", "settings", "metric_info", default={}) or {})
    keys = [k for k in KCLASS_CELL_METRICS if k in present]
    rule = small_group_rule(results)
    out = []
    for name, gr in grs.items():
        clean = as_dict(dig(gr, "variants", CLEAN))
        if not clean:
            continue
        order = group_order(gr)
        cells = as_dict(clean.get("groups"))
        sw = group_swatches(results, name, order)
        entries = [("overall", as_dict(clean.get("overall")), True)]
        entries += [(g, as_dict(cells.get(g)), False) for g in order if g in cells]
        gaps = as_dict(clean.get("gaps"))
        gap_rows = [gap_row(k, gaps["metrics"][k], cells, gr) for k in GAP_METRICS
                    if isinstance(dig(gaps, "metrics", k), dict)]
        for c in names:
            gm = dig(gaps, "classes", c, CLASS_GAP_KEY)
            if isinstance(gm, dict):
                row = gap_row(CLASS_GAP_KEY, gm, _class_cells(cells, c), gr)
                gap_rows.append({**row, "metric": f"Recall of {c}", "key": f"recall:{c}"})
        out.append({
            "id": slug(name), "name": name, "title": grouping_title(name, results),
            "columns": [{"label": metric_name(k)} for k in keys],
            "class_columns": [{"label": h} for _, h in CLASS_COLUMNS],
            "class_names": names,
            "rows": [_macro_row(g, cell, gr, keys, sw.get(g), overall=o) for g, cell, o in entries],
            "class_rows": [r for g, cell, o in entries
                           for r in _class_rows(g, cell, names, sw.get(g), overall=o)],
            "matrices": [_matrix(g, cell, names, sw.get(g)) for g, cell, _ in entries
                         if isinstance(cell.get("confusion_matrix"), list)],
            "gaps": gap_rows, "gap_reason": str(gaps.get("reason") or ""),
            "gap_groups": ", ".join(f"{g} (n={fmt.integer(status_n(gr, g, cells.get(g)))})"
                                    for g in as_list(gaps.get("groups", gr.get("gap_groups")))),
            "rule": rule,
        })
    return {"kclass": True, "groupings": out} if out else None


def _class_cells(cells: dict, c: str) -> dict:
    """{group: {"metrics": classes.<c>}}: a per-class metric where ``gap_row`` looks for one."""
    return {g: {**as_dict(cell), "metrics": as_dict(dig(cell, "classes", c))}
            for g, cell in cells.items()}


def _macro_row(name: str, cell: dict, gr: dict, keys: list[str], swatch, *, overall: bool) -> dict:
    status = cell.get("status", "ok")
    n = cell.get("n", dig(gr, "status", name, "n"))
    metrics = as_dict(cell.get("metrics"))
    counts = as_dict(cell.get("class_counts"))
    return {"name": name, "overall": overall, "swatch": swatch, "status": status,
            "reason": str(cell.get("reason") or ""), "n": fmt.integer(n),
            "counts": " / ".join(fmt.integer(v) for v in counts.values()),
            "estimates": [fmt.estimate(metrics.get(k), status=status, status_n=n,
                                    reason=cell.get("reason")) for k in keys]}


def _class_rows(name: str, cell: dict, names: list[str], swatch, *, overall: bool) -> list[dict]:
    rows = []
    for c in names:
        item = as_dict(dig(cell, "classes", c))
        status = "insufficient" if "insufficient" in (item.get("status"), cell.get("status")) \
            else "ok"
        reason = item.get("reason") or cell.get("reason")
        rows.append({"group": name, "class": c, "overall": overall, "swatch": swatch,
                     "status": status, "reason": str(reason or ""),
                     "support": fmt.integer(item.get("support")),
                     "estimates": [fmt.estimate(item.get(k), status=status,
                                             status_n=item.get("support"), reason=reason)
                                for k, _ in CLASS_COLUMNS]})
    return rows


def _matrix(name: str, cell: dict, names: list[str], swatch) -> dict:
    insufficient = cell.get("status") == "insufficient"
    return {"group": name, "n": fmt.integer(cell.get("n")), "swatch": swatch,
            "status": cell.get("status", "ok"), "note": str(cell.get("reason") or ""),
            "mark": fmt.TOO_FEW if insufficient else "",
            **matrix_view(cell["confusion_matrix"], names, names)}
