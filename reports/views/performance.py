"""The performance section: per grouping, every metric of every group on the clean images, the
confusion matrices, the gaps between groups and a bar chart of the main rates."""
from __future__ import annotations

from harness.metrics.catalogue import CATALOGUE, DENOMINATORS, REPORT_GAP_METRICS
from reports import fmt, plots
from reports.views.kclass_performance import is_kclass, kclass_performance
from reports.views.common import (CLEAN, as_dict, as_list, ci_level, dig, gap_row, group_order,
                                  group_swatches, grouping_title, groupings, matrix_view, metric_name,
                                  slug, small_group_rule, status_n)


def tooltip(key: str) -> str:
    """A column's tooltip from the catalogue: what the metric is, its direction when lower is
    better, and what its n counts (``"true positive rate; n = positives"``)."""
    m = CATALOGUE[key]
    parts = [m.description, "" if m.higher_is_better else "lower is better",
             f"n = {DENOMINATORS[m.denominator]}"]
    return "; ".join(p for p in parts if p)


def _columns(keys: tuple[str, ...]) -> tuple[tuple[str, str, str], ...]:
    return tuple((k, metric_name(k), tooltip(k)) for k in keys)


#: (key, heading, tooltip) of the per-group performance tables.
DISCRIMINATION = _columns(("balanced_accuracy", "sensitivity", "specificity", "roc_auc", "macro_f1"))
CALIBRATION = _columns(("accuracy", "precision", "npv", "brier", "ece"))


def performance(results: dict) -> dict | None:
    """``{"groupings": [view per grouping]}`` (None without metrics): rows per group, confusion
    matrices, the gaps of ``REPORT_GAP_METRICS``, the equalized-odds difference and a bar chart.
    A K-class audit's section is :func:`reports.views.kclass_performance.kclass_performance`.

    A group too small to judge keeps its row: each estimate with its interval and the mark
    ``fmt.TOO_FEW``, its reason on its name; it stays out of the bar chart and the gaps."""
    if is_kclass(results):
        return kclass_performance(results)
    grs = groupings(results)
    if not grs:
        return None
    model = as_dict(results.get("model"))
    pos = str(model.get("positive_class") or "positive")
    neg_names = [str(c) for c in as_list(model.get("class_names")) if str(c) != pos]
    neg = neg_names[0] if len(neg_names) == 1 else f"not {pos}"
    level = ci_level(results)
    rule = small_group_rule(results)
    out = []
    for name, gr in grs.items():
        order = group_order(gr)
        clean = as_dict(dig(gr, "variants", CLEAN))
        if not clean:
            continue
        cells = as_dict(clean.get("groups"))
        sw = group_swatches(results, name, order)
        rows = [_perf_row("overall", as_dict(clean.get("overall")), gr, None, overall=True)]
        rows += [_perf_row(g, as_dict(cells.get(g)), gr, sw.get(g)) for g in order if g in cells]
        matrices = []
        entries = [("overall", as_dict(clean.get("overall")))] + [(g, as_dict(cells.get(g))) for g in order
                                                                  if g in cells]
        for label, cell in entries:
            cm = cell.get("confusion_matrix")
            if isinstance(cm, list) and len(cm) == 2:
                matrices.append({"group": label, "n": fmt.integer(cell.get("n")),
                                 "status": cell.get("status", "ok"), "note": str(cell.get("reason") or ""),
                                 "mark": fmt.TOO_FEW if cell.get("status") == "insufficient" else "",
                                 "tn": fmt.integer(cm[0][0]), "fp": fmt.integer(cm[0][1]),
                                 "fn": fmt.integer(cm[1][0]), "tp": fmt.integer(cm[1][1]),
                                 "swatch": sw.get(label)})
        gaps = as_dict(clean.get("gaps"))
        gap_rows = [gap_row(k, gaps["metrics"][k], cells, gr) for k in REPORT_GAP_METRICS
                    if isinstance(dig(gaps, "metrics", k), dict)]
        eod = as_dict(gaps.get("equalized_odds_difference"))
        bar_plot = None
        ok_groups = [g for g in order if dig(cells, g, "status") == "ok"]
        if ok_groups:
            series = []
            for j, key in enumerate(("sensitivity", "specificity", "balanced_accuracy")):
                ms = [dig(cells, g, "metrics", key) or {} for g in ok_groups]
                series.append({"label": metric_name(key), "style": j,
                               "y": [m.get("value") for m in ms],
                               "lo": [(m.get("ci") or [None, None])[0] for m in ms],
                               "hi": [(m.get("ci") or [None, None])[1] for m in ms]})
            bar_plot = plots.bar_groups(categories=ok_groups, series=series,
                                        ylabel=f"rate ({level + ' ' if level else ''}CI)", ylim=(0, 1.05))
        out.append({
            "id": slug(name), "name": name, "title": grouping_title(name, results),
            "discrimination": [{"label": h, "tip": t} for _, h, t in DISCRIMINATION],
            "calibration": [{"label": h, "tip": t} for _, h, t in CALIBRATION],
            "rows": rows, "matrices": matrices, "gaps": gap_rows,
            "gap_status": str(gaps.get("status") or ""), "gap_reason": str(gaps.get("reason") or ""),
            "gap_groups": ", ".join(f"{g} (n={fmt.integer(status_n(gr, g, cells.get(g)))})"
                                    for g in as_list(gaps.get("groups", gr.get("gap_groups")))),
            "eod": fmt.estimate(eod) if eod else None,
            "bar_plot": bar_plot, "positive": pos, "negative": neg, "rule": rule,
            "insufficient": [r["name"] for r in rows if r["status"] == "insufficient"],
            "full": _full_matrix(gr),
        })
    return {"groupings": out} if out else None


def _full_matrix(gr: dict) -> dict | None:
    full = as_dict(gr.get("confusion_matrix_full"))
    m = full.get("overall")
    names = [str(c) for c in as_list(full.get("class_names"))]
    if isinstance(m, list) and names:
        return matrix_view(m, names, names)
    return None


def _perf_row(name: str, cell: dict, gr: dict, swatch: str | None, *, overall: bool = False) -> dict:
    status = cell.get("status", "ok")
    n = cell.get("n", dig(gr, "status", name, "n"))
    metrics = as_dict(cell.get("metrics"))

    def one(key):
        return fmt.estimate(metrics.get(key), status=status, status_n=n, reason=cell.get("reason"))

    return {
        "name": name, "overall": overall, "swatch": swatch, "status": status,
        "reason": str(cell.get("reason") or ""),
        "n": fmt.integer(n), "positives": fmt.integer(cell.get("positives")),
        "negatives": fmt.integer(cell.get("negatives")),
        "discrimination": [one(k) for k, _, _ in DISCRIMINATION],
        "calibration": [one(k) for k, _, _ in CALIBRATION],
    }
