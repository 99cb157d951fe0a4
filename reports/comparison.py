"""The comparison report: ``comparison.html`` from what ``harness compare`` wrote.

``render_comparison(out_dir, comparison)`` builds a view model of strings here (every number is
formatted by :mod:`reports.fmt`, with its paired interval and n) and renders
``templates/comparison.html`` with the report's own environment (Jinja2 autoescape on) and style
sheet. The page is self-contained: inline styles, no scripts, a Content-Security-Policy that loads
nothing from elsewhere.
"""
from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from harness.metrics.catalogue import CATALOGUE, display_name
from harness.results.io import atomic_write_text
from reports import fmt
from reports.templating import environment
from reports.views.gates import gates_view

COMPARISON_HTML = "comparison.html"
#: The metrics of the per-group table of paired differences (and of the changes listed).
GROUP_METRICS = ("balanced_accuracy", "sensitivity", "specificity", "roc_auc", "macro_f1", "ece")
CHANGE_CSS = {"better": "pass", "worse": "fail"}


def _label(metric: str) -> str:
    return display_name(metric)


def _d(x: Any) -> dict:
    return x if isinstance(x, dict) else {}


def _delta_cell(e: Mapping | None, n: Any = None) -> dict:
    """A paired difference as a report cell: Δ, its interval, n and the change badge."""
    e = _d(e)
    if e.get("status") == "insufficient":
        return {**fmt.estimate(None, status="insufficient", status_n=n, reason=e.get("reason")),
                "change": "", "css": ""}
    cell = fmt.estimate({"value": e.get("delta"), "ci": e.get("ci"), "n": e.get("n"),
                         "reason": e.get("reason")}, signed=True) if e else fmt.estimate(None)
    change = e.get("change") or ""
    return {**cell, "change": change if change in CHANGE_CSS else "",
            "css": CHANGE_CSS.get(change, "")}


def _value_cell(v: Any, ci: Any = None, n: Any = None) -> dict:
    return fmt.estimate({"value": v, "ci": ci, "n": n, "reason": None})


def _g_cell(g: Mapping | None, *, signed: bool = False) -> dict:
    g = _d(g)
    return fmt.estimate({"value": g.get("value"), "ci": g.get("ci"), "reason": g.get("reason")},
                        signed=signed) if g else fmt.estimate(None)


def build_comparison_view(comparison: Mapping) -> dict:
    """The comparison page's view model (strings only)."""
    b, c = _d(comparison.get("baseline")), _d(comparison.get("candidate"))
    ds = _d(comparison.get("dataset"))
    st = _d(comparison.get("settings"))
    view: dict[str, Any] = {
        "title": f"DermaTrace comparison: {b.get('model')} → {c.get('model')}",
        "ci_level": fmt.level(st.get("ci_level")),
        "facts": [
            {"label": "Baseline", "value": f"{b.get('model')} · threshold "
                                           f"{fmt.num(b.get('threshold'))} · {b.get('run')}"},
            {"label": "Candidate", "value": f"{c.get('model')} · threshold "
                                            f"{fmt.num(c.get('threshold'))} · {c.get('run')}"},
            {"label": "Images", "value": f"{fmt.integer(ds.get('n_images'))} "
                                         f"({fmt.integer(ds.get('n_positive'))} "
                                         f"{ds.get('positive_class')}, "
                                         f"{fmt.integer(ds.get('n_negative'))} other)"},
            {"label": "Dataset fingerprint", "value": fmt.short_hash(ds.get("fingerprint"), 16)},
            {"label": "Resamples", "value": f"{fmt.integer(st.get('n_boot'))} paired, seed "
                                            f"{st.get('seed')}"},
        ],
        "summary": [str(x) for x in comparison.get("summary") or []],
        "gates": _gates(comparison.get("gates")),
        "groupings": [],
        "drift": _drift(_d(comparison.get("gradcam"))),
        "methods": [
            {"label": "Paired intervals", "value": str(st.get("paired") or "")},
            {"label": "McNemar's test", "value": str(st.get("mcnemar") or "")},
            {"label": "Corruption error", "value": str(st.get("corruption_error") or "")},
            {"label": "Group of an image", "value": str(st.get("group_labels") or "")},
        ],
    }
    for name, g in _d(comparison.get("groupings")).items():
        view["groupings"].append(_grouping(name, _d(g)))
    only = _d(comparison.get("variants_only_in"))
    if only.get("baseline") or only.get("candidate"):
        view["facts"].append({"label": "Not compared", "value":
                              f"only in baseline: {', '.join(only.get('baseline') or []) or '—'}; "
                              f"only in candidate: {', '.join(only.get('candidate') or []) or '—'}"})
    return view


def _gates(section: Any) -> dict | None:
    if not isinstance(section, dict):
        return None
    return gates_view({"gates": section})


def _grouping(name: str, g: Mapping) -> dict:
    groups = [str(x) for x in g.get("groups") or []]
    deltas = _d(g.get("deltas"))
    overall = _d(deltas.get("overall"))
    title = "Estimated skin tone" if name == "group" else f"{name} (label)"
    out: dict[str, Any] = {"name": name, "title": title,
                           "disagreements": g.get("group_label_disagreements")}
    out["overall"] = [
        {"metric": _label(m),
         "baseline": _value_cell(_d(overall.get(m)).get("baseline"),
                                 _d(overall.get(m)).get("baseline_ci"), _d(overall.get(m)).get("n")),
         "candidate": _value_cell(_d(overall.get(m)).get("candidate"),
                                  _d(overall.get(m)).get("candidate_ci"), _d(overall.get(m)).get("n")),
         "delta": _delta_cell(overall.get(m))}
        for m in CATALOGUE if m in overall]
    out["metric_heads"] = [_label(m) for m in GROUP_METRICS]
    rows = []
    for cell in ["overall"] + groups:
        d = overall if cell == "overall" else _d(_d(deltas.get("groups")).get(cell))
        st = _d(_d(g.get("status")).get(cell))
        n = st.get("n") if cell != "overall" else None
        rows.append({"group": "All images" if cell == "overall" else cell,
                     "css": "overall" if cell == "overall" else "",
                     "n": fmt.integer(n) if n is not None else "",
                     "cells": [_delta_cell(d if d.get("status") == "insufficient" else d.get(m), n)
                               for m in GROUP_METRICS]})
    out["group_rows"] = rows
    mc = _d(g.get("mcnemar"))
    out["mcnemar"] = []
    for cell in ["overall"] + groups:
        m = _d(mc.get("overall") if cell == "overall" else _d(mc.get("groups")).get(cell))
        if not m:
            continue
        out["mcnemar"].append({
            "group": "All images" if cell == "overall" else cell,
            "css": "overall" if cell == "overall" else "",
            "n": fmt.integer(m.get("n")), "both_correct": fmt.integer(m.get("both_correct")),
            "both_wrong": fmt.integer(m.get("both_wrong")),
            "b": fmt.integer(m.get("baseline_only_correct")),
            "c": fmt.integer(m.get("candidate_only_correct")), "method": str(m.get("method")),
            "statistic": fmt.num(m.get("statistic"), 2) if m.get("statistic") is not None else "",
            "p": _p(m.get("p_value")),
            "favours": ("too small to judge" if m.get("status") == "insufficient"
                        else str(m.get("favours") or "neither"))})
    out["changes"] = [
        {"group": str(x.get("group") or "all images"), "metric": _label(str(x.get("metric"))),
         "change": str(x.get("change")), "css": CHANGE_CSS.get(str(x.get("change")), ""),
         "cell": _delta_cell(x)}
        for x in g.get("changes") or []
        if x.get("group") is not None and x.get("metric") in GROUP_METRICS]
    gaps = _d(g.get("gaps"))
    out["gap_reason"] = "" if gaps.get("status") == "ok" else str(gaps.get("reason") or "")
    out["gaps"] = []
    for m, e in _d(gaps.get("metrics")).items():
        e = _d(e)
        out["gaps"].append({
            "metric": _label(m),
            "baseline": f"{fmt.num(e.get('baseline'))} ({' − '.join(e.get('baseline_groups') or [])})",
            "candidate": f"{fmt.num(e.get('candidate'))} "
                         f"({' − '.join(e.get('candidate_groups') or [])})",
            "delta": _delta_cell(e)})
    if gaps.get("equalized_odds_difference"):
        e = _d(gaps["equalized_odds_difference"])
        out["gaps"].append({"metric": _label("equalized_odds_difference"),
                            "baseline": fmt.num(e.get("baseline")),
                            "candidate": fmt.num(e.get("candidate")), "delta": _delta_cell(e)})
    th = _d(g.get("thresholds"))
    op = _d(th.get("operating"))
    out["operating"] = (f"{fmt.num(op.get('baseline'))} → {fmt.num(op.get('candidate'))} "
                        f"(shift {fmt.num(op.get('shift'), signed=True)})")
    out["thresholds"] = []
    for cell in ["overall"] + groups:
        t = _d(th.get("overall") if cell == "overall" else _d(th.get("groups")).get(cell))
        if t.get("status") != "ok":
            out["thresholds"].append({"group": cell, "best": str(t.get("reason") or "—"),
                                      "target": "", "css": ""})
            continue
        out["thresholds"].append({
            "group": "All images" if cell == "overall" else cell,
            "css": "overall" if cell == "overall" else "",
            "best": _shift(t.get("best_macro_f1")),
            "target": _shift(t.get("for_target_sensitivity"))})
    out["target_sensitivity"] = fmt.num(th.get("target_sensitivity"), 2)
    rob = _d(g.get("robustness"))
    out["robustness_groups"] = groups
    out["robustness"] = []
    for v, r in rob.items():
        r = _d(r)
        ov = _d(r.get("overall"))
        out["robustness"].append({
            "variant": v,
            "flip": _rob_cell(ov, "flip_rate"),
            "ba": _rob_cell(ov, "balanced_accuracy"),
            "groups": [_rob_cell(_d(_d(r.get("groups")).get(x)), "flip_rate",
                                 _d(_d(g.get("status")).get(x)).get("n")) for x in groups]})
    ce = _d(g.get("corruption_error"))
    out["ce_reason"] = "" if ce.get("status") == "ok" else str(ce.get("reason") or "")
    out["ce"] = []
    if ce.get("status") == "ok":
        for cell in ["overall"] + groups:
            x = ce.get("overall") if cell == "overall" else _d(ce.get("groups")).get(cell)
            if not isinstance(x, dict):
                continue
            out["ce"].append({
                "group": "All images" if cell == "overall" else cell,
                "css": "overall" if cell == "overall" else "",
                "mce": _g_cell(x.get("mce")), "relative_mce": _g_cell(x.get("relative_mce")),
                "families": [{"family": f, "ce": _g_cell(e)}
                             for f, e in _d(x.get("ce")).items()]})
    return out


def _rob_cell(cell: Mapping, stat: str, n: Any = None) -> dict:
    return _delta_cell(cell if cell.get("status") == "insufficient" else cell.get(stat), n)


def _shift(s: Any) -> str:
    s = _d(s)
    return (f"{fmt.num(s.get('baseline'), 2)} → {fmt.num(s.get('candidate'), 2)} "
            f"({fmt.num(s.get('shift'), 2, signed=True)})")


def _p(p: Any) -> str:
    if not fmt.is_number(p):
        return fmt.DASH
    return f"{p:.3g}" if p >= 0.001 else "< 0.001"


def _drift(g: Mapping) -> dict:
    if not g.get("available"):
        return {"available": False, "reason": str(g.get("reason") or "not computed"), "rows": []}
    rows = []
    for v, part in _d(g.get("variants")).items():
        for metric, e in _d(_d(part).get("overall")).items():
            e = _d(e)
            rows.append({"variant": v, "metric": metric,
                         "baseline": _value_cell(e.get("baseline"), e.get("baseline_ci"), e.get("n")),
                         "candidate": _value_cell(e.get("candidate"), e.get("candidate_ci"),
                                                  e.get("n")),
                         "delta": fmt.num(e.get("delta"), signed=True)})
    return {"available": True, "reason": str(g.get("reason") or ""), "rows": rows}


def render_comparison(out_dir: str | Path, comparison: Mapping) -> Path:
    """Write ``out_dir/comparison.html`` from a comparison (as ``harness.paired.runs`` returns it).

    Parameters
    ----------
    out_dir : folder to write into (created).
    comparison : the comparison dict (``comparison.json``).

    Returns
    -------
    Path of the written HTML file.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    view = build_comparison_view(comparison)
    html = environment().get_template("comparison.html").render(**view)
    path = out / COMPARISON_HTML
    atomic_write_text(path, html)
    return path
