"""The summary section: what we found, gate verdicts (per gate, then per cell), headline numbers
and findings, model and data facts."""
from __future__ import annotations

from harness.metrics.catalogue import HEADLINE_METRICS
from reports import fmt
from reports.views.common import (CLEAN, as_dict, as_list, ci_level, dig, gap_row, group_order,
                                  grouping_title, groupings, headline_grouping, metric_name,
                                  small_group_rule, status_n)
from reports.views.found import what_we_found
from reports.views.gates import gates_view


def model_facts(results: dict) -> list[dict]:
    """``[{"label", "value"}]``: the model's name, file, format, hash, classes, threshold, input."""
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
    """``[{"label", "value"}]``: images, classes, skipped files, root, layout, fingerprint."""
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


def headline(results: dict) -> dict | None:
    """The summary's numbers: overall performance and the largest skin-tone gaps, with intervals,
    and the findings in words (gaps whose interval excludes 0, groups too small to judge, the
    variant with the largest flip rate from ``findings.largest_flip_rate``)."""
    name = headline_grouping(results)
    if name is None:
        return None
    gr = groupings(results)[name]
    overall = as_dict(dig(gr, "variants", CLEAN, "overall"))
    om = as_dict(overall.get("metrics"))
    overall_cells = [{"label": metric_name(k),
                      "cell": fmt.estimate(om.get(k), status=overall.get("status"),
                                           status_n=overall.get("n"), reason=overall.get("reason"))}
                     for k in HEADLINE_METRICS if k in om]
    gaps = as_dict(dig(gr, "variants", CLEAN, "gaps"))
    level = ci_level(results)
    gap_rows = []
    findings = []
    cells = as_dict(dig(gr, "variants", CLEAN, "groups"))
    if gaps.get("status") == "ok":
        for key in HEADLINE_METRICS:
            gm = dig(gaps, "metrics", key)
            if not isinstance(gm, dict):
                continue
            diff = as_dict(gm.get("difference"))
            worst, best = gm.get("worst_group"), gm.get("best_group")
            gap_rows.append(gap_row(key, gm, cells, gr))
            if fmt.excludes_zero(diff.get("ci")) and fmt.is_number(diff.get("value")):
                wv = fmt.num(dig(cells, worst, "metrics", key, "value"))
                bv = fmt.num(dig(cells, best, "metrics", key, "value"))
                wn = fmt.integer(status_n(gr, str(worst), cells.get(worst)))
                bn = fmt.integer(status_n(gr, str(best), cells.get(best)))
                findings.append(
                    f"{metric_name(key)} differs between skin-tone groups by {fmt.num(diff['value'])} "
                    f"{fmt.interval(diff.get('ci'))}: {worst} {wv} (n={wn}) vs {best} {bv} (n={bn}); "
                    f"the {level + ' ' if level else ''}interval excludes 0.")
    too_few = [_too_few(g, gr, cells) for g in group_order(gr)
               if dig(gr, "status", g, "status") == "insufficient"]
    if too_few:
        rule = small_group_rule(results)
        findings.append(f"Too few images to judge{f' (the rule: {rule})' if rule else ''}, so shown "
                        f"only with wide intervals and never compared or gated: "
                        + "; ".join(too_few) + ".")
    worst_flip = as_dict(dig(results, "findings", "largest_flip_rate"))
    fr = as_dict(worst_flip.get("flip_rate"))
    flip_gr = groupings(results).get(str(worst_flip.get("grouping") or name), gr)
    flip_status = dig(flip_gr, "robustness", worst_flip.get("variant"), "overall", "status", default="ok")
    flip = fmt.estimate(fr, status=flip_status)
    if worst_flip.get("variant") is not None and (flip["raw"] is not None or flip["mark"]):
        findings.append(f"Largest flip rate: {worst_flip['variant']} changes {flip['value']} {flip['ci']} "
                        f"of predictions (n={fmt.integer(fr.get('n'))}"
                        f"{', ' + flip['mark'] if flip['mark'] else ''}).")
    return {"grouping": grouping_title(name, results), "overall": overall_cells,
            "overall_n": fmt.integer(overall.get("n")), "gaps": gap_rows, "findings": findings,
            "gap_status": gaps.get("status"), "gap_reason": str(gaps.get("reason") or "")}


def _too_few(g: str, gr: dict, cells: dict) -> str:
    """``"dark (n=18): balanced accuracy 0.512 [0.301, 0.722]"``; the estimate only with its
    interval (without one, the group's n alone)."""
    n = fmt.integer(dig(gr, "status", g, "n", default=dig(cells, g, "n")))
    cell = fmt.estimate(dig(cells, g, "metrics", "balanced_accuracy"), status="insufficient")
    if cell["mark"]:
        return f"{g} (n={n}): balanced accuracy {cell['value']} {cell['ci']}"
    return f"{g} (n={n})"


def summary(results: dict) -> dict:
    """The summary section: what we found (or None), model, data, gates (or None) and headline
    (or None)."""
    return {"found": what_we_found(results), "model": model_facts(results), "data": data_facts(results),
            "gates": gates_view(results), "headline": headline(results)}
