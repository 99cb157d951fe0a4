"""The thresholds section: per grouping, sensitivity and specificity of every group across the
threshold sweep, operating and best points, and the group-specific-threshold what-if."""
from __future__ import annotations

from reports import fmt, plots
from reports.views.common import (as_dict, as_list, group_order, group_swatches, grouping_title,
                                  groupings, slug)


def thresholds(results: dict) -> dict | None:
    """``{"groupings": [view per grouping with a sweep]}``, or None when no grouping has one."""
    out = []
    for name, gr in groupings(results).items():
        th = as_dict(gr.get("thresholds"))
        grid = as_list(th.get("grid"))
        if not grid:
            continue
        order = group_order(gr)
        tcs = as_dict(th.get("groups"))
        op = th.get("operating_threshold")
        series_tpr, series_spec, rows = [], [], []
        entries = [("overall", as_dict(th.get("overall")), None)] + [(g, as_dict(tcs.get(g)), i)
                                                                     for i, g in enumerate(order) if g in tcs]
        sw = group_swatches(results, name, order)
        for label, tc, idx in entries:
            st = tc.get("status", "ok")
            row = {"name": label, "overall": idx is None, "status": st, "n": fmt.integer(tc.get("n")),
                   "swatch": sw.get(label), "reason": str(tc.get("reason") or ""),
                   "style": plots.style(idx if idx is not None else 7)["color"], "insufficient": ""}
            if st != "ok":
                row["insufficient"] = fmt.insufficient(tc.get("n"))
                rows.append(row)
                continue
            opr = as_dict(tc.get("operating"))
            best = as_dict(tc.get("best_macro_f1"))
            tgt = as_dict(tc.get("for_target_sensitivity"))
            row.update({
                "op_threshold": fmt.num(opr.get("threshold")), "op_tpr": fmt.num(opr.get("tpr")),
                "op_fpr": fmt.num(opr.get("fpr")), "op_precision": fmt.num(opr.get("precision")),
                "op_macro_f1": fmt.num(opr.get("macro_f1")),
                "best_threshold": fmt.num(best.get("threshold")), "best_macro_f1": fmt.num(best.get("macro_f1")),
                "target_threshold": fmt.num(tgt.get("threshold")), "target_tpr": fmt.num(tgt.get("tpr")),
                "target_fpr": fmt.num(tgt.get("fpr")),
            })
            rows.append(row)
            style_idx = idx if idx is not None else 7
            tpr = as_list(tc.get("tpr"))
            fpr = as_list(tc.get("fpr"))
            series_tpr.append({"label": label, "style": style_idx, "x": grid, "y": tpr,
                               "points": [(best["threshold"], _at(grid, tpr, best["threshold"]))]
                               if fmt.is_number(best.get("threshold")) else None})
            series_spec.append({"label": label, "style": style_idx, "x": grid,
                                "y": [None if not fmt.is_number(v) else 1.0 - v for v in fpr]})
        plot = None
        if series_tpr:
            plot = plots.line_panels(
                [{"title": "Sensitivity (TPR)", "series": series_tpr},
                 {"title": "Specificity (1 − FPR)", "series": series_spec}],
                xlabel="decision threshold", ylabel="rate", ylim=(-0.02, 1.02),
                vline=op if fmt.is_number(op) else None,
                vline_label=f"operating threshold {fmt.num(op)}" if fmt.is_number(op) else None,
                max_cols=2, panel_size=(4.4, 2.9), markers=False)
        out.append({"id": slug(name), "title": grouping_title(name, results), "rows": rows, "plot": plot,
                    "operating": fmt.num(op), "target": fmt.num(th.get("target_sensitivity")),
                    "whatif": _whatif(as_dict(gr.get("threshold_optimizer")))})
    return {"groupings": out} if out else None


def _at(grid: list, ys: list, x: float) -> float | None:
    """The curve's value at the grid point nearest ``x`` (where a marker is drawn)."""
    best = min(range(len(grid)), key=lambda i: abs(float(grid[i]) - float(x))) if grid else None
    if best is None or best >= len(ys) or not fmt.is_number(ys[best]):
        return None
    return float(ys[best])


def _whatif(w: dict) -> dict | None:
    if not w:
        return None
    if w.get("status") != "ok":
        return {"status": str(w.get("status")), "reason": str(w.get("reason") or ""),
                "label": str(w.get("label") or ""), "rows": []}
    rows = [{"group": str(g), "n": fmt.integer(v.get("n")), "tpr_before": fmt.num(v.get("tpr_before")),
             "tpr_after": fmt.num(v.get("tpr_after")), "fpr_before": fmt.num(v.get("fpr_before")),
             "fpr_after": fmt.num(v.get("fpr_after"))}
            for g, v in as_dict(w.get("groups")).items() if isinstance(v, dict) and fmt.is_number(v.get("n"))]
    ov = as_dict(w.get("overall"))
    return {"status": "ok", "reason": "", "label": str(w.get("label") or "What-if"), "rows": rows,
            "bacc_before": fmt.num(ov.get("balanced_accuracy_before")),
            "bacc_after": fmt.num(ov.get("balanced_accuracy_after")),
            "eod_before": fmt.num(w.get("equalized_odds_difference_before")),
            "eod_after": fmt.num(w.get("equalized_odds_difference_after")),
            "n": fmt.integer(sum(v.get("n", 0) for v in as_dict(w.get("groups")).values()
                                 if isinstance(v, dict) and fmt.is_number(v.get("n"))))}
