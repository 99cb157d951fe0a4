"""From ``results.json`` + ``samples.csv`` to the report's view model: a plain dict of strings.

Everything the report decides happens here, in Python: which sections exist, which rows and
pictures are shown, and how every number is printed (through :mod:`reports.fmt`). The templates
only loop and print. Each section builder reads the part of the results it needs, tolerates
missing parts (the section is then absent) and ignores fields it does not know.

Every number shown is taken from ``results.json`` (or a per-image row of ``samples.csv``) and
shown with its n, and with its interval where it is an estimate.
"""
from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import pandas as pd

from reports import colour, fmt, plots
from reports.assets import Thumbnails

GROUP_GROUPING = "group"   # the grouping of the estimated skin tone
CLEAN = "clean"

# (key, heading, tooltip) of the per-group performance tables.
DISCRIMINATION = (
    ("balanced_accuracy", "Balanced accuracy", "mean of sensitivity and specificity; n = images"),
    ("sensitivity", "Sensitivity", "true positive rate; n = positives"),
    ("specificity", "Specificity", "true negative rate; n = negatives"),
    ("roc_auc", "ROC AUC", "area under the ROC curve; n = images"),
    ("macro_f1", "Macro-F1", "mean F1 of both classes; n = images"),
)
CALIBRATION = (
    ("accuracy", "Accuracy", "n = images"),
    ("precision", "PPV", "positive predictive value (precision); n = predicted positives"),
    ("npv", "NPV", "negative predictive value; n = predicted negatives"),
    ("brier", "Brier", "mean squared error of p; lower is better; n = images"),
    ("ece", "ECE", "expected calibration error, 10 bins; lower is better; n = images"),
)
GAP_METRICS = ("balanced_accuracy", "sensitivity", "specificity", "roc_auc", "precision", "macro_f1",
               "ece")
METRIC_NAMES = {k: h for k, h, _ in DISCRIMINATION + CALIBRATION} | {
    "flip_rate": "Flip rate", "f1": "F1", "f1_negative": "F1 (negative class)",
    "mean_abs_delta_p": "Mean |Δp|", "right_to_wrong": "Right→wrong", "wrong_to_right": "Wrong→right",
}
ACHIEVED_ORDER = ("dL", "da", "db", "dITA", "hf_loss")
ACHIEVED_NAMES = {"dL": "ΔL*", "da": "Δa*", "db": "Δb*", "dITA": "ΔITA (°)", "hf_loss": "HF loss"}
SCHEME_SOURCES = {   # used only when results.json does not carry the scheme's own source
    "chardon6": "Chardon et al. 1991, Int J Cosmet Sci 13:191; Del Bino et al. 2006, Pigment Cell Res 19:606",
    "coarse3": "Chardon/Del Bino bands merged into three for small datasets",
    "kinyanjui8": ("Kinyanjui et al. 2019, 'Estimating skin tone and effects on classification performance "
                   "in dermatology datasets', arXiv:1910.13268"),
    "fitzpatrick": ("ITA cut points fitted to Fitzpatrick labels (an estimate of a skin type, not a "
                    "clinician's label)"),
}


# --------------------------------------------------------------------------------------- helpers
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
    return x if isinstance(x, dict) else {}


def as_list(x: Any) -> list:
    return x if isinstance(x, list) else []


def text(x: Any) -> str:
    """Any value as display text (None -> dash)."""
    if x is None:
        return fmt.DASH
    if isinstance(x, float):
        return fmt.num(x, 4) if math.isfinite(x) else fmt.DASH
    return str(x)


def metric_name(key: str) -> str:
    return METRIC_NAMES.get(key, key.replace("_", " "))


class Rows:
    """Per-image facts from samples.csv (row i = image i), with safe access."""

    def __init__(self, samples: pd.DataFrame | None):
        self.df = samples
        self.n = 0 if samples is None else len(samples)

    def get(self, i: int, col: str) -> Any:
        if self.df is None or col not in self.df.columns or not 0 <= i < self.n:
            return None
        v = self.df[col].iat[i]
        if isinstance(v, float) and not math.isfinite(v):
            return None
        return v.item() if hasattr(v, "item") else v


def scheme_view(results: dict) -> dict:
    """The skin-tone scheme: name, cut points (decreasing) and source.

    Read from ``groups.scheme`` (a name or ``{name, groups, cuts, source}``), ``groups.scheme_info``
    and ``groups.cuts``/``groups.boundaries``; the source falls back to a known citation.
    """
    groups = as_dict(results.get("groups"))
    raw = groups.get("scheme")
    info = raw if isinstance(raw, dict) else as_dict(groups.get("scheme_info"))
    name = str(info.get("name") or (raw if isinstance(raw, str) else "") or "")
    cuts = [float(c) for c in as_list(info.get("cuts") or groups.get("cuts") or groups.get("boundaries"))
            if fmt.is_number(c)]
    source = str(info.get("source") or groups.get("scheme_source") or SCHEME_SOURCES.get(name, ""))
    return {"name": name, "cuts": cuts, "source": source}


def grouping_title(name: str, results: dict) -> str:
    if name == GROUP_GROUPING:
        scheme = scheme_view(results)["name"]
        return f"Estimated skin tone (ITA{', ' + scheme if scheme else ''})"
    return f"{name} (label)"


def group_swatches(results: dict, samples: pd.DataFrame | None, grouping: str,
                   groups: Sequence[str]) -> dict[str, str | None]:
    """``#rrggbb`` per group: the group's median L*, b* when measured, else its median ITA."""
    out: dict[str, str | None] = {}
    per_group = as_dict(dig(results, "groups", "ita", "per_group"))
    for g in groups:
        sw = None
        if grouping == GROUP_GROUPING and isinstance(per_group.get(g), dict):
            pg = per_group[g]
            sw = colour.swatch(ita=pg.get("ita_median") if fmt.is_number(pg.get("ita_median")) else None,
                               L=pg.get("L_median") if fmt.is_number(pg.get("L_median")) else None,
                               b=pg.get("b_median") if fmt.is_number(pg.get("b_median")) else None)
        elif samples is not None and grouping in samples.columns and "ita" in samples.columns:
            ita = pd.to_numeric(samples.loc[samples[grouping].astype(str) == str(g), "ita"], errors="coerce")
            ita = ita[ita.notna()]
            if len(ita):
                sw = colour.swatch(ita=float(ita.median()))
        out[g] = sw
    return out


# --------------------------------------------------------------------------------------- sections
def header(results: dict) -> dict:
    model = as_dict(results.get("model"))
    data = as_dict(results.get("dataset"))
    name = model.get("name") or (str(model.get("path", "")).rsplit("/", 1)[-1] or "model")
    return {
        "title": f"DermaTrace audit: {name}",
        "model_name": str(name),
        "data_root": text(data.get("root")) if data.get("root") else "",
        "tool": f"{dig(results, 'tool', 'name', default='dermatrace')} "
                f"{dig(results, 'tool', 'version', default='')}".strip(),
        "schema": text(results.get("schema_version")),
    }


def model_facts(results: dict) -> list[dict]:
    m = as_dict(results.get("model"))
    if not m:
        return []
    size = m.get("input_size")
    facts = [
        ("Model", m.get("name") or m.get("path")),
        ("File", m.get("path")),
        ("Format", m.get("format")),
        ("Content hash", fmt.short_hash(m.get("hash"), 16) if m.get("hash") else None),
        ("Classes", ", ".join(str(c) for c in as_list(m.get("class_names"))) or None),
        ("Positive class", m.get("positive_class")),
        ("Decision threshold", fmt.num(m.get("threshold"), 3) if fmt.is_number(m.get("threshold")) else None),
        ("Input size", f"{size[0]}×{size[1]} px" if isinstance(size, list) and len(size) == 2 else None),
        ("Preprocessing", m.get("preprocessing")),
        ("Binary view", m.get("binary_view_note")),
        ("Recipe", dig(m, "sidecar", "recipe")),
    ]
    return [{"label": k, "value": str(v)} for k, v in facts if v not in (None, "")]


def data_facts(results: dict) -> list[dict]:
    d = as_dict(results.get("dataset"))
    if not d:
        return []
    n = d.get("n_images")
    facts = [
        ("Images", fmt.integer(n) if fmt.is_number(n) else None),
        ("Positives / negatives",
         f"{fmt.integer(d['n_positive'])} / {fmt.integer(d['n_negative'])}"
         if fmt.is_number(d.get("n_positive")) and fmt.is_number(d.get("n_negative")) else None),
        ("Skipped files", fmt.integer(d.get("n_skipped", len(as_list(d.get("skipped")))))
         if "skipped" in d or "n_skipped" in d else None),
        ("Data", d.get("root")),
        ("Layout", str(d["layout"]).replace("_", " ") if d.get("layout") else None),
        ("Fingerprint", fmt.short_hash(d.get("fingerprint"), 16) if d.get("fingerprint") else None),
    ]
    return [{"label": k, "value": str(v)} for k, v in facts if v not in (None, "")]


def gates_view(results: dict) -> dict | None:
    """Gate verdicts (``harness.gates.evaluate``): one row per verdict, counts, skipped gates, the rule."""
    g = results.get("gates")
    if not isinstance(g, dict):
        return None
    rows = []
    counts: dict[str, int] = {}
    for v in as_list(g.get("verdicts")):
        if not isinstance(v, dict):
            continue
        verdict = str(v.get("verdict", "")).upper() or "UNKNOWN"
        counts[verdict] = counts.get(verdict, 0) + 1
        m = {"value": v.get("value"), "ci": v.get("ci"), "n": v.get("n"), "reason": v.get("reason")}
        n_text = f"n={fmt.integer(v['n'])}" if fmt.is_number(v.get("n")) else _gate_n(results, v)
        cell = fmt.estimate(m) if fmt.is_number(v.get("value")) else {
            "kind": "undefined", "value": fmt.DASH, "ci": "", "n": "", "note": str(v.get("reason") or ""),
            "raw": None}
        cell["n"] = n_text
        rows.append({
            "verdict": verdict, "css": verdict.lower(), "name": text(v.get("name")),
            "metric": text(v.get("metric")), "where": _gate_where(v), "cell": cell, "bound": _bound_text(v),
            "reason": str(v.get("reason") or ""),
        })
    order = ("FAIL", "WARN", "INSUFFICIENT", "PASS")
    for k, c in as_dict(g.get("counts")).items():   # counts as the gates wrote them, when given
        if fmt.is_number(c):
            counts[str(k)] = int(c)
    passed = g.get("passed")
    if passed is None:
        passed = counts.get("FAIL", 0) == 0
    skipped = [{"name": text(x.get("name")), "reason": text(x.get("reason"))}
               for x in as_list(g.get("skipped")) if isinstance(x, dict)]
    return {
        "rows": rows,
        "counts": [{"verdict": k, "css": k.lower(), "count": counts[k]} for k in order if counts.get(k)]
        + [{"verdict": k, "css": k.lower(), "count": c} for k, c in counts.items() if k not in order and c],
        "passed": bool(passed), "strict": bool(g.get("strict", False)),
        "overall": "PASSED" if passed else "FAILED", "skipped": skipped,
        "rule": str(g.get("decision_rule") or ""),
    }


def _gate_where(v: dict) -> str:
    scope = str(v.get("scope") or "")
    groups = [str(x) for x in as_list(v.get("groups"))]
    parts = [scope.replace("_", " ")] if scope else []
    if v.get("group") not in (None, ""):
        parts.append(f"group {v['group']}")
    elif scope == "worst_group" and groups:
        parts.append(f"worst: {groups[0]}")
    elif scope == "group_gap" and len(groups) == 2:
        parts.append(f"{groups[0]} vs {groups[1]}")
    variant = v.get("variant") or (f"{v['perturbation']}@{v['severity']}" if v.get("perturbation") else None)
    if variant and variant != CLEAN:
        parts.append(str(variant))
    if v.get("grouping") not in (None, "", GROUP_GROUPING):
        parts.append(f"by {v['grouping']}")
    return ", ".join(parts) or fmt.DASH


def _gate_n(results: dict, v: dict) -> str:
    """The n behind a gate's value, from the metrics section, when the verdict does not carry it."""
    gr = as_dict(dig(results, "metrics", "groupings", str(v.get("grouping") or GROUP_GROUPING)))
    if not gr:
        return ""
    variant = str(v.get("variant") or (f"{v['perturbation']}@{v['severity']}"
                                       if v.get("perturbation") and v.get("severity") is not None else CLEAN))
    cells = as_dict(dig(gr, "variants", variant))
    metric = str(v.get("metric") or "")
    groups = [str(x) for x in as_list(v.get("groups"))]
    if not groups and v.get("scope") == "group_gap":
        groups = [str(x) for x in as_list(dig(cells, "gaps", "groups")) or as_list(gr.get("gap_groups"))]
    if v.get("group") in (None, "") and groups:
        ns = [fmt.integer(dig(cells, "groups", g, "metrics", metric, "n",
                              default=_status_n(gr, g, as_dict(dig(cells, "groups", g))))) for g in groups]
        return f"n={'/'.join(ns)}"
    if v.get("group") in (None, ""):
        cell = as_dict(cells.get("overall"))
    else:
        cell = as_dict(dig(cells, "groups", v["group"]))
    n = dig(cell, "metrics", metric, "n", default=cell.get("n"))
    return f"n={fmt.integer(n)}" if fmt.is_number(n) else ""


def _bound_text(v: dict) -> str:
    def one(b: Any, prefix: str = "") -> list[str]:
        out = []
        if isinstance(b, dict):
            if fmt.is_number(b.get("min")):
                out.append(f"{prefix}≥ {fmt.num(b['min'])}")
            if fmt.is_number(b.get("max")):
                out.append(f"{prefix}≤ {fmt.num(b['max'])}")
        return out

    parts = one(v.get("bound")) + one(v.get("warn_bound"), "warn ")
    b = v.get("bound")
    if not parts and fmt.is_number(b):
        op = v.get("direction") or v.get("op")
        parts.append(f"≥ {fmt.num(b)}" if op in ("min", ">=") else f"≤ {fmt.num(b)}" if op in ("max", "<=")
                     else fmt.num(b))
    return ", ".join(parts) or fmt.DASH


def _groupings(results: dict) -> dict[str, dict]:
    return {k: v for k, v in as_dict(dig(results, "metrics", "groupings")).items() if isinstance(v, dict)}


def _group_order(gr: dict) -> list[str]:
    groups = [str(g) for g in as_list(gr.get("groups"))]
    if not groups:
        groups = [str(g) for g in as_dict(dig(gr, "variants", CLEAN, "groups"))]
    return groups


def _status_n(gr: dict, g: str, cell: dict | None = None) -> Any:
    cell = cell or {}
    return cell.get("n", dig(gr, "status", g, "n"))


def headline(results: dict) -> dict | None:
    """The summary's numbers: overall performance and the largest skin-tone gaps, with intervals."""
    grs = _groupings(results)
    name = GROUP_GROUPING if GROUP_GROUPING in grs else next(iter(grs), None)
    if name is None:
        return None
    gr = grs[name]
    overall = as_dict(dig(gr, "variants", CLEAN, "overall"))
    om = as_dict(overall.get("metrics"))
    overall_cells = [{"label": metric_name(k), "cell": fmt.estimate(om.get(k))}
                     for k in ("balanced_accuracy", "sensitivity", "specificity", "roc_auc") if k in om]
    gaps = as_dict(dig(gr, "variants", CLEAN, "gaps"))
    gap_rows = []
    findings = []
    cells = as_dict(dig(gr, "variants", CLEAN, "groups"))
    if gaps.get("status") == "ok":
        for key in ("balanced_accuracy", "sensitivity", "specificity", "roc_auc"):
            gm = dig(gaps, "metrics", key)
            if not isinstance(gm, dict):
                continue
            diff = as_dict(gm.get("difference"))
            worst, best = gm.get("worst_group"), gm.get("best_group")
            row = _gap_row(key, gm, cells, gr)
            gap_rows.append(row)
            if fmt.excludes_zero(diff.get("ci")) and fmt.is_number(diff.get("value")):
                wv = fmt.num(dig(cells, worst, "metrics", key, "value"))
                bv = fmt.num(dig(cells, best, "metrics", key, "value"))
                wn = fmt.integer(_status_n(gr, str(worst), cells.get(worst)))
                bn = fmt.integer(_status_n(gr, str(best), cells.get(best)))
                findings.append(
                    f"{metric_name(key)} differs between skin-tone groups by {fmt.num(diff['value'])} "
                    f"{fmt.interval(diff.get('ci'))}: {worst} {wv} (n={wn}) vs {best} {bv} (n={bn}); "
                    "the 95% interval excludes 0.")
    insufficient = [f"{g} (n={fmt.integer(dig(gr, 'status', g, 'n'))})" for g in _group_order(gr)
                    if dig(gr, "status", g, "status") == "insufficient"]
    if insufficient:
        findings.append("Too few images to judge: " + ", ".join(insufficient) + ".")
    # Robustness: the variant that flips the most predictions overall.
    worst_flip = None
    for vname, rob in as_dict(gr.get("robustness")).items():
        fr = dig(rob, "overall", "flip_rate")
        if isinstance(fr, dict) and fmt.is_number(fr.get("value")):
            if worst_flip is None or fr["value"] > worst_flip[1]["value"]:
                worst_flip = (vname, fr)
    if worst_flip is not None:
        findings.append(f"Largest flip rate: {worst_flip[0]} changes {fmt.num(worst_flip[1]['value'])} "
                        f"{fmt.interval(worst_flip[1].get('ci'))} of predictions "
                        f"(n={fmt.integer(worst_flip[1].get('n'))}).")
    return {"grouping": grouping_title(name, results), "overall": overall_cells,
            "overall_n": fmt.integer(overall.get("n")), "gaps": gap_rows, "findings": findings,
            "gap_status": gaps.get("status"), "gap_reason": str(gaps.get("reason") or "")}


def _gap_row(key: str, gm: dict, cells: dict, gr: dict) -> dict:
    diff = as_dict(gm.get("difference"))
    ratio = as_dict(gm.get("ratio"))
    fvl = as_dict(gm.get("first_vs_last"))
    worst, best = gm.get("worst_group"), gm.get("best_group")

    def gn(g):
        return f"{g} (n={fmt.integer(_status_n(gr, str(g), cells.get(g)))})" if g is not None else fmt.DASH

    return {
        "metric": metric_name(key), "key": key,
        "worst": gn(worst), "worst_value": fmt.num(dig(cells, worst, "metrics", key, "value")),
        "best": gn(best), "best_value": fmt.num(dig(cells, best, "metrics", key, "value")),
        "difference": fmt.estimate(diff), "ratio": fmt.estimate(ratio),
        "first_vs_last": fmt.estimate(as_dict(fvl.get("difference")), signed=True),
        "first_vs_last_label": f"{fvl.get('first')} − {fvl.get('last')}" if fvl.get("first") else "",
        "real": fmt.excludes_zero(diff.get("ci")),
    }


def summary(results: dict) -> dict:
    return {"model": model_facts(results), "data": data_facts(results), "gates": gates_view(results),
            "headline": headline(results)}


def dataset(results: dict, samples: pd.DataFrame | None, *, skipped_limit: int = 200) -> dict | None:
    d = as_dict(results.get("dataset"))
    groups = as_dict(results.get("groups"))
    if not d and not groups:
        return None
    n = d.get("n_images")
    class_rows = [{"name": str(c), "n": fmt.integer(k), "share": fmt.pct(k, n)}
                  for c, k in as_dict(d.get("class_counts")).items() if fmt.is_number(k)]
    sizes = as_dict(d.get("image_sizes"))
    size_rows = []
    for axis in ("width", "height"):
        s = sizes.get(axis)
        if isinstance(s, dict):
            size_rows.append({"axis": axis, "min": fmt.integer(s.get("min")),
                              "median": fmt.num(s.get("median"), 0),
                              "max": fmt.integer(s.get("max")), "n": fmt.integer(n)})
    # {"640x480": 108, ...}: the original sizes and how many images have each
    size_counts = sorted(((str(k), int(v)) for k, v in sizes.items()
                          if fmt.is_number(v) and "x" in str(k)), key=lambda kv: (-kv[1], kv[0]))
    total_sized = sum(v for _, v in size_counts)
    size_table = [{"size": k.replace("x", "×") + " px", "n": fmt.integer(v), "share": fmt.pct(v, total_sized)}
                  for k, v in size_counts[:12]]
    sizes_more = fmt.integer(len(size_counts) - 12) if len(size_counts) > 12 else ""
    skipped_all = [s for s in as_list(d.get("skipped")) if isinstance(s, dict)]
    skipped = [{"file": text(s.get("file")), "reason": text(s.get("reason"))}
               for s in skipped_all[:skipped_limit]]
    view = {
        "n": fmt.integer(n), "classes": class_rows, "sizes": size_rows, "size_table": size_table,
        "sizes_more": sizes_more,
        "distinct_sizes": (fmt.integer(sizes.get("distinct")) if fmt.is_number(sizes.get("distinct"))
                           else fmt.integer(len(size_counts)) if size_counts else ""),
        "skipped": skipped, "n_skipped": fmt.integer(d.get("n_skipped", len(skipped_all))),
        "skipped_more": fmt.integer(len(skipped_all) - len(skipped)) if len(skipped_all) > len(skipped) else "",
        "extra_columns": ", ".join(str(c) for c in as_list(d.get("extra_columns"))),
    }
    view.update(skin_tone(results, samples))
    return view


def skin_tone(results: dict, samples: pd.DataFrame | None) -> dict:
    groups = as_dict(results.get("groups"))
    if not groups:
        return {"tone": None}
    ita = as_dict(groups.get("ita"))
    order = [str(g) for g in as_list(groups.get("order"))] or [str(g) for g in as_dict(groups.get("counts"))]
    counts = as_dict(groups.get("counts"))
    total = sum(v for v in counts.values() if fmt.is_number(v))
    swatches = group_swatches(results, samples, GROUP_GROUPING, order)
    per_group = as_dict(ita.get("per_group"))
    sch = scheme_view(results)
    named = [g for g in order if g != "unknown"]
    ranges: dict[str, str] = {}
    if sch["cuts"] and len(named) == len(sch["cuts"]) + 1:
        c = sch["cuts"]
        ranges[named[0]] = f"> {fmt.num(c[0], 1)}°"
        for i in range(1, len(c)):
            ranges[named[i]] = f"{fmt.num(c[i], 1)}° to {fmt.num(c[i - 1], 1)}°"
        ranges[named[-1]] = f"≤ {fmt.num(c[-1], 1)}°"
    rows = []
    for g in order:
        pg = as_dict(per_group.get(g))
        sw = swatches.get(g)
        rows.append({
            "name": g, "n": fmt.integer(counts.get(g, pg.get("n"))), "share": fmt.pct(counts.get(g), total),
            "swatch": sw or "#cccccc", "swatch_known": sw is not None,
            "range": ranges.get(g, "not enough skin" if g == "unknown" else fmt.DASH),
            "ita_median": fmt.degrees(pg.get("ita_median")),
            "L": fmt.num(pg.get("L_median"), 1), "b": fmt.num(pg.get("b_median"), 1),
        })
    hist = as_dict(ita.get("histogram"))
    edges, hcounts = as_list(hist.get("edges")), as_list(hist.get("counts"))
    plot = None
    bins = []
    if len(edges) == len(hcounts) + 1 and hcounts:
        mids = [(float(edges[i]) + float(edges[i + 1])) / 2 for i in range(len(hcounts))]
        cols = [colour.swatch(ita=m) or "#cccccc" for m in mids]
        bounds = scheme_view(results)["cuts"]
        named = [g for g in order if g != "unknown"]
        plot = plots.histogram(edges=edges, counts=hcounts, colours=cols, xlabel="ITA (°), light → dark",
                               ylabel="images", boundaries=bounds,
                               band_labels=named if len(named) == len(bounds) + 1 else ())
        bins = [{"range": f"{fmt.degrees(edges[i], 0)} to {fmt.degrees(edges[i + 1], 0)}",
                 "n": fmt.integer(hcounts[i]), "swatch": cols[i]} for i in range(len(hcounts))][::-1]
    s = as_dict(ita.get("summary"))
    ita_summary = None
    if s:
        ita_summary = {
            "median": f"{fmt.num(s.get('median'), 1)}°", "p05": f"{fmt.num(s.get('p05'), 1)}°",
            "p95": f"{fmt.num(s.get('p95'), 1)}°", "n": fmt.integer(s.get("n", ita.get("n_known"))),
            "n_total": fmt.integer(ita.get("n")),
            "n_unknown": (fmt.integer(ita["n"] - ita["n_known"])
                          if fmt.is_number(ita.get("n")) and fmt.is_number(ita.get("n_known")) else ""),
        }
    labels = []
    for col, cnt in as_dict(groups.get("label_groupings")).items():
        if isinstance(cnt, dict):
            tot = sum(v for v in cnt.values() if fmt.is_number(v))
            value_rows = [{"value": str(k), "n": fmt.integer(v), "share": fmt.pct(v, tot)}
                          for k, v in cnt.items() if fmt.is_number(v)]
            if value_rows:
                labels.append({"name": str(col), "rows": value_rows})
    agreement = [agreement_view(col, a) for col, a in as_dict(groups.get("label_agreement")).items()
                 if isinstance(a, dict)]
    agreement = [a for a in agreement if a["stats"] or a["matrix"]]
    sch = scheme_view(results)
    return {"tone": {"scheme": sch["name"] or fmt.DASH, "rows": rows, "plot": plot, "bins": bins,
                     "has_bands": bool(ranges), "has_boundaries": bool(sch["cuts"]),
                     "summary": ita_summary, "labels": labels, "agreement": agreement,
                     "source": sch["source"]}}


def agreement_view(column: str, a: dict) -> dict:
    """Agreement of the ITA-based Fitzpatrick estimate with a label column.

    Reads ``subgroups.label_agreement``'s shape (``n``, ``exact``, ``within_1``, ``kappa_linear``
    with ``n_kappa``, ``confusion {rows, cols, counts}``, ``per_type``); extra keys are ignored.
    """
    n = a.get("n")
    stats = []
    for key, label, n_key in (("exact", "Exact agreement", "n"), ("within_1", "Within one type", "n"),
                              ("kappa_linear", "Cohen's κ (linear weights)", "n_kappa")):
        v = a.get(key)
        count = a.get(n_key, n)
        if isinstance(v, dict):
            stats.append({"label": label, "cell": fmt.estimate(v, n=count)})
        elif fmt.is_number(v) or (key in a and v is None):
            why = a.get("kappa_reason") if key == "kappa_linear" else a.get("reason")
            stats.append({"label": label, "cell": fmt.estimate({"value": v, "n": count, "reason": why})})
    matrix = None
    cm = a.get("confusion", a.get("confusion_matrix"))
    if isinstance(cm, dict):
        counts = cm.get("counts", cm.get("matrix"))
        if isinstance(counts, list) and counts and all(isinstance(r, list) for r in counts):
            rows_lbl = [str(x) for x in as_list(cm.get("rows", cm.get("labels")))]
            cols_lbl = [str(x) for x in as_list(cm.get("cols", cm.get("columns", cm.get("labels"))))]
            matrix = _matrix_view(counts, rows_lbl, cols_lbl)
    per_type = []
    for t, v in as_dict(a.get("per_type")).items():
        if isinstance(v, dict) and fmt.is_number(v.get("n")):
            per_type.append({"type": str(t), "n": fmt.integer(v["n"]),
                             "exact": fmt.estimate({"value": v.get("exact"), "n": v["n"]}),
                             "within_1": fmt.estimate({"value": v.get("within_1"), "n": v["n"]}),
                             "n_unknown": fmt.integer(v.get("n_unknown"))})
    notes = []
    if fmt.is_number(a.get("n_unknown")) and a["n_unknown"]:
        notes.append(f"{fmt.integer(a['n_unknown'])} labelled images had no estimate (counted as misses)")
    if fmt.is_number(a.get("n_unlabelled")) and a["n_unlabelled"]:
        notes.append(f"{fmt.integer(a['n_unlabelled'])} images had no label")
    if a.get("reason"):
        notes.append(str(a["reason"]))
    return {"column": column, "n": fmt.integer(n), "stats": stats, "matrix": matrix, "per_type": per_type,
            "note": "; ".join(notes) + ("." if notes else "")}


def _matrix_view(matrix: list, row_labels: list[str], col_labels: list[str]) -> dict:
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


def performance(results: dict, samples: pd.DataFrame | None) -> dict | None:
    grs = _groupings(results)
    if not grs:
        return None
    model = as_dict(results.get("model"))
    pos = str(model.get("positive_class") or "positive")
    neg_names = [str(c) for c in as_list(model.get("class_names")) if str(c) != pos]
    neg = neg_names[0] if len(neg_names) == 1 else f"not {pos}"
    out = []
    for name, gr in grs.items():
        order = _group_order(gr)
        clean = as_dict(dig(gr, "variants", CLEAN))
        if not clean:
            continue
        cells = as_dict(clean.get("groups"))
        sw = group_swatches(results, samples, name, order)
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
                                 "tn": fmt.integer(cm[0][0]), "fp": fmt.integer(cm[0][1]),
                                 "fn": fmt.integer(cm[1][0]), "tp": fmt.integer(cm[1][1]),
                                 "swatch": sw.get(label)})
        gaps = as_dict(clean.get("gaps"))
        gap_rows = [_gap_row(k, gaps["metrics"][k], cells, gr) for k in GAP_METRICS
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
            bar_plot = plots.bar_groups(categories=ok_groups, series=series, ylabel="rate (95% CI)",
                                        ylim=(0, 1.05))
        out.append({
            "id": _slug(name), "name": name, "title": grouping_title(name, results),
            "discrimination": [{"label": h, "tip": t} for _, h, t in DISCRIMINATION],
            "calibration": [{"label": h, "tip": t} for _, h, t in CALIBRATION],
            "rows": rows, "matrices": matrices, "gaps": gap_rows,
            "gap_status": str(gaps.get("status") or ""), "gap_reason": str(gaps.get("reason") or ""),
            "gap_groups": ", ".join(f"{g} (n={fmt.integer(_status_n(gr, g, cells.get(g)))})"
                                    for g in as_list(gaps.get("groups", gr.get("gap_groups")))),
            "eod": fmt.estimate(eod) if eod else None,
            "bar_plot": bar_plot, "positive": pos, "negative": neg,
            "full": _full_matrix(gr),
        })
    return {"groupings": out} if out else None


def _full_matrix(gr: dict) -> dict | None:
    full = as_dict(gr.get("confusion_matrix_full"))
    m = full.get("overall")
    names = [str(c) for c in as_list(full.get("class_names"))]
    if isinstance(m, list) and names:
        return _matrix_view(m, names, names)
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


def _slug(s: str) -> str:
    out = "".join(c if c.isalnum() else "-" for c in str(s).lower()).strip("-")
    return out or "x"


def thresholds(results: dict, samples: pd.DataFrame | None) -> dict | None:
    out = []
    for name, gr in _groupings(results).items():
        th = as_dict(gr.get("thresholds"))
        grid = as_list(th.get("grid"))
        if not grid:
            continue
        order = _group_order(gr)
        tcs = as_dict(th.get("groups"))
        op = th.get("operating_threshold")
        series_tpr, series_spec, rows = [], [], []
        entries = [("overall", as_dict(th.get("overall")), None)] + [(g, as_dict(tcs.get(g)), i)
                                                                     for i, g in enumerate(order) if g in tcs]
        sw = group_swatches(results, samples, name, order)
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
        out.append({"id": _slug(name), "title": grouping_title(name, results), "rows": rows, "plot": plot,
                    "operating": fmt.num(op), "target": fmt.num(th.get("target_sensitivity")),
                    "whatif": _whatif(as_dict(gr.get("threshold_optimizer")))})
    return {"groupings": out} if out else None


def _at(grid: list, ys: list, x: float) -> float | None:
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


def _families(results: dict, gr: dict) -> dict[str, list[int]]:
    fams = as_dict(dig(results, "metrics", "families"))
    if fams:
        return {str(f): [int(s) for s in as_list(sv) if fmt.is_number(s)] for f, sv in fams.items()}
    out: dict[str, list[int]] = {}
    for v in as_list(dig(results, "perturbations", "variants")):
        if isinstance(v, dict) and v.get("family") is not None and fmt.is_number(v.get("severity")):
            out.setdefault(str(v["family"]), []).append(int(v["severity"]))
    return {f: sorted(s) for f, s in out.items()}


def robustness(results: dict, samples: pd.DataFrame | None, thumbs: Thumbnails | None, *,
               strip_images: int = 2) -> dict | None:
    variants = [v for v in as_list(dig(results, "perturbations", "variants")) if isinstance(v, dict)]
    grs = _groupings(results)
    name = GROUP_GROUPING if GROUP_GROUPING in grs else next(iter(grs), None)
    gr = grs.get(name, {}) if name else {}
    if not variants and not as_dict(gr.get("robustness")):
        return None
    # What each perturbation asked for and achieved.
    def is_summary(x):
        return isinstance(x, dict) and ("mean" in x or "median" in x)

    fields = [k for k in ACHIEVED_ORDER if any(is_summary(as_dict(v.get("achieved")).get(k)) for v in variants)]
    fields += sorted({k for v in variants for k, x in as_dict(v.get("achieved")).items()
                      if k not in fields and is_summary(x)})
    ladder = []
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
        ladder.append({"name": text(v.get("name")), "family": text(v.get("family")),
                       "severity": text(v.get("severity")), "requested": fmt.params(v.get("requested")),
                       "n": fmt.integer(common) if common is not None else "", "cells": cells})
    view: dict[str, Any] = {"ladder": ladder, "fields": [ACHIEVED_NAMES.get(k, k) for k in fields],
                            "grouping": grouping_title(name, results) if name else ""}
    if gr:
        order = _group_order(gr)
        families = _families(results, gr)
        ok = [g for g in order if dig(gr, "status", g, "status", default="ok") == "ok"]
        view["curves"] = _severity_plots(gr, families, ok, order)
        view["flip_groups"] = [{"name": g, "n": fmt.integer(dig(gr, "status", g, "n"))} for g in order]
        view["flips"] = _flip_rows(gr, order)
        view["drops"] = _drop_rows(gr, order, families)
        view["insufficient"] = [f"{g} (n={fmt.integer(dig(gr, 'status', g, 'n'))})" for g in order if g not in ok]
    view["strips"] = _strips(results, samples, thumbs, limit=strip_images)
    return view


def _variant_name(family: str, sev: int) -> str:
    return CLEAN if sev == 0 else f"{family}@{sev}"


def _severity_plots(gr: dict, families: dict[str, list[int]], groups: list[str],
                    order: list[str]) -> list[dict]:
    """Balanced accuracy (severity 0 = clean) and flip rate by severity: a panel per family, a line
    per group with enough images (colour = the group's place in ``order``), 95% interval bands."""
    if not families or not any(families.values()):
        return []
    out = []
    specs = (("balanced_accuracy", "Balanced accuracy", "metric",
              "Balanced accuracy by severity (0 = clean) per skin-tone group, with 95% interval bands."),
             ("flip_rate", "Flip rate", "robustness",
              "Share of predictions that change, by severity, per skin-tone group, with 95% interval bands."))
    top_sev = max(max(s) for s in families.values() if s)
    for key, label, source, caption in specs:
        panels = []
        lows: list[float] = []
        for fam, sevs in families.items():
            xs = ([0] if source == "metric" else []) + list(sevs)
            series = []
            for idx, g in [(7, None)] + [(order.index(g) if g in order else i, g) for i, g in enumerate(groups)]:
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
        rows.append({"variant": vname, "overall": fmt.estimate(ov.get("flip_rate")), "cells": cells,
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
        rows.append({"variant": vname, "overall": fmt.estimate(dig(rob, "overall", "drop", "balanced_accuracy",
                                                                    "absolute"), signed=True),
                     "cells": cells})
    return rows


def _strips(results: dict, samples: pd.DataFrame | None, thumbs: Thumbnails | None, *,
            limit: int) -> list[dict]:
    """One image across every severity of every family, from the ``<variant>/<i>`` thumbnails."""
    if thumbs is None:
        return []
    variants = [v for v in as_list(dig(results, "perturbations", "variants")) if isinstance(v, dict)]
    families: dict[str, list[tuple[int, str]]] = {}
    for v in variants:
        if v.get("family") is not None and fmt.is_number(v.get("severity")) and v.get("name"):
            families.setdefault(str(v["family"]), []).append((int(v["severity"]), str(v["name"])))
    if not families:
        return []
    first_variant = next(iter(families.values()))[0][1]
    try:
        indices = [int(k.rsplit("/", 1)[1]) for k in thumbs.keys_under(first_variant)
                   if k.rsplit("/", 1)[1].isdigit()]
    except ValueError:
        return []
    rows = Rows(samples)
    threshold = dig(results, "model", "threshold")
    # Prefer images from different groups, lightest and darkest first.
    order = [str(g) for g in as_list(dig(results, "groups", "order"))]
    by_group: dict[str, int] = {}
    for i in indices:
        g = str(rows.get(i, "group"))
        by_group.setdefault(g, i)
    ranked = [by_group[g] for g in order if g in by_group and g != "unknown"]
    if len(ranked) > 1 and limit >= 2:
        ranked = [ranked[0], ranked[-1]] + ranked[1:-1]
    ranked += [i for i in indices if i not in ranked]
    out = []
    for i in ranked[:limit]:
        sev_max = max(s for f in families.values() for s, _ in f)
        p_clean = rows.get(i, "p")
        fam_rows = []
        for fam, items in families.items():
            cells = [_strip_cell(thumbs.uri(f"clean/{i}"), "clean", p_clean, p_clean, threshold)]
            by_sev = dict(items)
            for s in range(1, sev_max + 1):
                if s in by_sev:
                    vname = by_sev[s]
                    cells.append(_strip_cell(thumbs.uri(f"{vname}/{i}"), vname, rows.get(i, f"p[{vname}]"),
                                             p_clean, threshold))
                else:
                    cells.append(None)
            fam_rows.append({"family": fam, "cells": cells})
        out.append({"index": i, "file": text(rows.get(i, "file")), "group": text(rows.get(i, "group")),
                    "label": text(rows.get(i, "label")),
                    "ita": fmt.degrees(rows.get(i, "ita")),
                    "severities": list(range(1, sev_max + 1)), "rows": fam_rows})
    return out


def _strip_cell(uri: str | None, name: str, p: Any, p_clean: Any, threshold: Any) -> dict:
    flipped = (fmt.is_number(p) and fmt.is_number(p_clean) and fmt.is_number(threshold)
               and (float(p) >= float(threshold)) != (float(p_clean) >= float(threshold)))
    return {"uri": uri, "name": name, "p": fmt.num(p), "flipped": bool(flipped)}


def gradcam(results: dict, samples: pd.DataFrame | None, thumbs: Thumbnails | None, *,
            gallery_limit: int = 24) -> dict | None:
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
    drift = _drift_tables(as_dict(g.get("drift")), [str(x) for x in as_list(dig(results, "groups", "order"))])
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
    floor = _drift_tables({f"no perturbation: {k}": v for k, v in as_dict(g.get("noise_floor")).items()},
                          overall_only=True)
    return {"available": True, "layer": text(g.get("layer")), "n_images": fmt.integer(g.get("n_images")),
            "method": str(g.get("method") or ""), "class_explained": str(g.get("class_explained") or ""),
            "noise_floor": floor[0] if floor else None,
            "selection": text(g.get("selection")) if g.get("selection") else "",
            "attention": attention, "attention_by_group": attention_by_group, "drift": drift,
            "gallery": gallery}


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
    cells = []
    for k in columns:
        v = as_dict(d.get(k))
        cells.append(_stat_cell(v))
    return cells


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


def _drift_tables(drift: dict, order: Sequence[str] = (), *, overall_only: bool = False) -> list[dict]:
    """Drift per variant as ``harness.explain.attention.summarise_drift`` writes it.

    ``{variant: {"metrics": {name: kind}, "overall": {"all"|"held"|"flipped": S},
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
    tables = [{
        "title": "Heatmap drift between clean and perturbed images",
        "caption": f"Median over the selected images, its 95% interval and n ({hint}).",
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


def misclassified(results: dict, samples: pd.DataFrame | None, thumbs: Thumbnails | None, *,
                  gallery_limit: int = 12) -> dict | None:
    grs = _groupings(results)
    name = GROUP_GROUPING if GROUP_GROUPING in grs else next(iter(grs), None)
    if name is None:
        return None
    mis = as_dict(grs[name].get("misclassified"))
    if not mis:
        return None
    rows = Rows(samples)
    order = _group_order(grs[name])
    sw = group_swatches(results, samples, name, order)
    blocks = []
    for label, mc in [("all images", as_dict(mis.get("overall")))] if not as_dict(mis.get("groups")) else []:
        blocks.append(_mis_block(label, mc, rows, thumbs, gallery_limit, None))
    for g in order:
        mc = as_dict(dig(mis, "groups", g))
        if mc:
            blocks.append(_mis_block(g, mc, rows, thumbs, gallery_limit, sw.get(g)))
    if not blocks:
        return None
    ov = as_dict(mis.get("overall"))
    return {"grouping": grouping_title(name, results), "blocks": blocks,
            "n": fmt.integer(ov.get("n")), "fp": fmt.integer(ov.get("false_positives")),
            "fn": fmt.integer(ov.get("false_negatives")), "limit": fmt.integer(gallery_limit),
            "positive": text(dig(results, "model", "positive_class"))}


def _mis_block(group: str, mc: dict, rows: Rows, thumbs: Thumbnails | None, limit: int,
               swatch: str | None) -> dict:
    def items(lst):
        out = []
        for e in as_list(lst)[:limit]:
            if not isinstance(e, dict) or not fmt.is_number(e.get("index")):
                continue
            i = int(e["index"])
            out.append({"index": i, "uri": thumbs.uri(f"clean/{i}") if thumbs else None,
                        "p": fmt.num(e.get("p")), "file": text(rows.get(i, "file")),
                        "label": text(rows.get(i, "label")),
                        "ita": fmt.degrees(rows.get(i, "ita"), missing="")})
        return out

    fp, fn = items(mc.get("fp")), items(mc.get("fn"))
    return {"group": group, "swatch": swatch, "n": fmt.integer(mc.get("n")),
            "n_fp": fmt.integer(mc.get("false_positives")), "n_fn": fmt.integer(mc.get("false_negatives")),
            "fp": fp, "fn": fn, "shown_fp": fmt.integer(len(fp)), "shown_fn": fmt.integer(len(fn))}


def comparison(results: dict) -> dict | None:
    """The comparison with another run, when the results carry one.

    A ``dermatrace.comparison/1`` document (what ``harness compare`` writes) is shown through
    :func:`reports.comparison.build_comparison_view`: its summary lines, the paired differences of
    all images and the groups whose interval excludes 0 (the full page is ``comparison.html``).
    Any other shape is shown generically: metric-like entries (``value`` with ``ci``/``n``) as rows.
    """
    c = results.get("comparison")
    if not isinstance(c, dict) or not c:
        return None
    if str(c.get("schema", "")).startswith("dermatrace.comparison/"):
        from reports.comparison import build_comparison_view

        view = build_comparison_view(c)
        groupings = view.get("groupings") or []
        g = next((x for x in groupings if x.get("name") == GROUP_GROUPING), groupings[0] if groupings else {})
        return {"kind": "paired", "facts": view.get("facts", []), "summary": view.get("summary", []),
                "grouping": g.get("title", ""), "overall": g.get("overall", []), "changes": g.get("changes", []),
                "gates": view.get("gates"), "tables": []}
    facts, tables = [], []
    for key, v in c.items():
        if isinstance(v, (str, int, float, bool)) or v is None:
            facts.append({"label": key.replace("_", " "), "value": text(v)})
    for key, v in c.items():
        if isinstance(v, dict):
            rows = _flatten_estimates(v, prefix="")
            if rows:
                tables.append({"title": key.replace("_", " "), "rows": rows})
        elif isinstance(v, list) and v and all(isinstance(x, dict) for x in v):
            rows = []
            for x in v:
                label = " · ".join(str(x[k]) for k in ("name", "metric", "scope", "group", "variant", "grouping")
                                   if x.get(k) not in (None, ""))
                est = x if "value" in x else (x.get("delta") if isinstance(x.get("delta"), dict) else None)
                if est is not None:
                    rows.append({"label": label or fmt.DASH, "cell": fmt.estimate(est, signed="delta" in x),
                                 "extra": text(x.get("verdict") or x.get("winner") or "")})
            if rows:
                tables.append({"title": key.replace("_", " "), "rows": rows})
    if not facts and not tables:
        return None
    return {"kind": "generic", "facts": facts, "tables": tables}


def _flatten_estimates(d: dict, prefix: str, depth: int = 0) -> list[dict]:
    rows = []
    for k, v in d.items():
        label = f"{prefix} · {k}" if prefix else str(k)
        if isinstance(v, dict) and "value" in v and ("ci" in v or "n" in v):
            rows.append({"label": label, "cell": fmt.estimate(v, signed=True), "extra": ""})
        elif isinstance(v, dict) and depth < 3:
            rows.extend(_flatten_estimates(v, label, depth + 1))
    return rows


def _sentence(x: Any) -> str:
    """``"percentile bootstrap; ..."`` -> ``"Percentile bootstrap; ...."``."""
    t = str(x or "").strip()
    if not t:
        return ""
    t = t[0].upper() + t[1:]
    return t if t.endswith(".") else t + "."


def methods(results: dict) -> dict:
    settings = as_dict(dig(results, "metrics", "settings"))
    sch = scheme_view(results)
    order = [g for g in (str(x) for x in as_list(dig(results, "groups", "order"))) if g != "unknown"]
    bands = ""
    if sch["cuts"] and len(order) == len(sch["cuts"]) + 1:
        c = sch["cuts"]
        parts = [f"{order[0]} > {fmt.num(c[0], 1)}°"]
        parts += [f"{order[i]} {fmt.num(c[i], 1)}° to {fmt.num(c[i - 1], 1)}°" for i in range(1, len(c))]
        parts.append(f"{order[-1]} ≤ {fmt.num(c[-1], 1)}°")
        bands = "; ".join(parts)
    items = {
        "scheme": sch["name"],
        "scheme_source": sch["source"],
        "scheme_bands": bands,
        "ci_level": f"{100 * settings['ci_level']:.0f}%" if fmt.is_number(settings.get("ci_level")) else "95%",
        "n_boot": fmt.integer(settings.get("n_boot")) if fmt.is_number(settings.get("n_boot")) else "",
        "seed": text(settings.get("seed")) if "seed" in settings else "",
        "ci_method": _sentence(settings.get("ci_method")),
        "wilson_rule": _sentence(settings.get("wilson_rule")),
        "min_n": fmt.integer(settings.get("min_n")) if fmt.is_number(settings.get("min_n")) else "",
        "min_per_class": (fmt.integer(settings.get("min_per_class"))
                          if fmt.is_number(settings.get("min_per_class")) else ""),
        "decision_rule": str(settings.get("decision_rule") or ""),
        "ece": fmt.params(settings.get("ece")) if isinstance(settings.get("ece"), dict) else "",
        "gap_exclude": ", ".join(str(x) for x in as_list(settings.get("gap_exclude"))),
        "versions": [{"name": str(k), "version": str(v)} for k, v in as_dict(results.get("versions")).items()
                     if isinstance(v, (str, int, float))],
    }
    return items


# --------------------------------------------------------------------------------------- assembly
SECTIONS = (
    ("summary", "Summary"), ("dataset", "Dataset"), ("performance", "Performance by group"),
    ("thresholds", "Thresholds"), ("robustness", "Robustness"), ("gradcam", "Grad-CAM"),
    ("misclassified", "Misclassifications"), ("comparison", "Comparison"), ("methods", "Method notes"),
)


def build_context(results: dict, samples: pd.DataFrame | None = None, thumbs: Thumbnails | None = None, *,
                  gallery_limit: int = 12, strip_images: int = 2, strict: bool = False) -> dict:
    """The report's view model.

    Parameters
    ----------
    results : dict
        The parsed ``results.json``.
    samples : DataFrame or None
        ``samples.csv`` (row i = image i); per-image pictures and facts need it.
    thumbs : Thumbnails or None
        The run's thumbnails.
    gallery_limit : int
        Most pictures per misclassification list (per group, per FP/FN).
    strip_images : int
        How many images are shown across the perturbation ladder.
    strict : bool
        Raise when a section cannot be built (tests); otherwise the section shows why it is missing.

    Returns
    -------
    dict
        ``{"header", "nav", "sections": {name: view or None}, "errors": {...}}``, strings only
        (plus data URIs).
    """
    builders: dict[str, Callable[[], Any]] = {
        "summary": lambda: summary(results),
        "dataset": lambda: dataset(results, samples),
        "performance": lambda: performance(results, samples),
        "thresholds": lambda: thresholds(results, samples),
        "robustness": lambda: robustness(results, samples, thumbs, strip_images=strip_images),
        "gradcam": lambda: gradcam(results, samples, thumbs, gallery_limit=2 * gallery_limit),
        "misclassified": lambda: misclassified(results, samples, thumbs, gallery_limit=gallery_limit),
        "comparison": lambda: comparison(results),
        "methods": lambda: methods(results),
    }
    sections: dict[str, Any] = {}
    errors: dict[str, str] = {}
    for key, build in builders.items():
        try:
            sections[key] = build()
        except Exception as exc:  # a malformed section must not take the whole report down
            if strict:
                raise
            sections[key] = None
            errors[key] = f"{type(exc).__name__}: {exc}"
    nav = [{"id": key, "title": title} for key, title in SECTIONS
           if sections.get(key) is not None or key in errors]
    return {"header": header(results), "nav": nav, "sections": sections, "errors": errors,
            "titles": dict(SECTIONS)}
