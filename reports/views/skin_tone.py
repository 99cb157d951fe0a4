"""The skin-tone part of the dataset section: groups and their ITA bands, the ITA histogram, label
groupings, and agreement of the ITA-based estimate with Fitzpatrick labels."""
from __future__ import annotations

from reports import colour, fmt, plots
from reports.views.common import (GROUP_GROUPING, as_dict, as_list, group_swatches, matrix_view,
                                  scheme_view)

UNKNOWN = "unknown"   # the group of images whose skin tone could not be estimated
#: What the ITA band column says for it: the reasons an image is unknown (subgroups.ita).
UNKNOWN_RANGE = "no estimate: too little skin, or its ITA too uneven"


def band_ranges(named: list[str], cuts: list[float]) -> dict[str, str]:
    """``{group: "41.0° to 55.0°"}`` for the named groups (light to dark) of a scheme whose cut
    points (decreasing) separate them; empty when the two do not fit together."""
    if not cuts or len(named) != len(cuts) + 1:
        return {}
    ranges = {named[0]: f"> {fmt.num(cuts[0], 1)}°"}
    for i in range(1, len(cuts)):
        ranges[named[i]] = f"{fmt.num(cuts[i], 1)}° to {fmt.num(cuts[i - 1], 1)}°"
    ranges[named[-1]] = f"≤ {fmt.num(cuts[-1], 1)}°"
    return ranges


def skin_tone(results: dict) -> dict:
    """``{"tone": view or None}``: the groups of the scheme with counts, bands and swatches, the
    histogram, the ITA summary, label groupings and their agreement with the estimate."""
    groups = as_dict(results.get("groups"))
    if not groups:
        return {"tone": None}
    ita = as_dict(groups.get("ita"))
    order = [str(g) for g in as_list(groups.get("order"))] or [str(g) for g in as_dict(groups.get("counts"))]
    counts = as_dict(groups.get("counts"))
    total = sum(v for v in counts.values() if fmt.is_number(v))
    swatches = group_swatches(results, GROUP_GROUPING, order)
    per_group = as_dict(ita.get("per_group"))
    sch = scheme_view(results)
    named = [g for g in order if g != "unknown"]
    ranges = band_ranges(named, sch["cuts"])
    rows = []
    for g in order:
        # an unknown image's ITA was measured over too little (or too uneven) skin: it is no
        # evidence of a skin tone, so the unknown group shows neither a median nor a swatch
        pg = as_dict(per_group.get(g)) if g != UNKNOWN else {}
        sw = swatches.get(g) if g != UNKNOWN else None
        rows.append({
            "name": g, "n": fmt.integer(counts.get(g, as_dict(per_group.get(g)).get("n"))),
            "share": fmt.pct(counts.get(g), total),
            "swatch": sw or "#cccccc", "swatch_known": sw is not None,
            "range": ranges.get(g, UNKNOWN_RANGE if g == UNKNOWN else fmt.DASH),
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
        bounds = sch["cuts"]
        plot = plots.histogram(edges=edges, counts=hcounts, colours=cols, xlabel="ITA (°), light → dark",
                               ylabel="images", boundaries=bounds,
                               band_labels=named if len(named) == len(bounds) + 1 else ())
        bins = [{"range": f"{fmt.degrees(edges[i], 0)} to {fmt.degrees(edges[i + 1], 0)}",
                 "n": fmt.integer(hcounts[i]), "swatch": cols[i]} for i in range(len(hcounts))][::-1]
    s = as_dict(ita.get("summary"))
    ita_summary = None
    if s:
        n_total, n_known = known_counts(groups)
        ita_summary = {
            "median": f"{fmt.num(s.get('median'), 1)}°", "p05": f"{fmt.num(s.get('p05'), 1)}°",
            "p95": f"{fmt.num(s.get('p95'), 1)}°",
            "n": fmt.integer(n_known if n_known is not None else s.get("n")),
            "n_total": fmt.integer(n_total),
            "n_unknown": (fmt.integer(n_total - n_known)
                          if n_total is not None and n_known is not None and n_total > n_known else ""),
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
    return {"tone": {"scheme": sch["name"] or fmt.DASH, "rows": rows, "plot": plot, "bins": bins,
                     "has_bands": bool(ranges), "has_boundaries": bool(sch["cuts"]),
                     "summary": ita_summary, "labels": labels, "agreement": agreement,
                     "source": sch["source"]}}


def known_counts(groups: dict) -> tuple[int | None, int | None]:
    """(images, images whose skin tone is known) of the ``groups`` section. Known means: not in
    the ``unknown`` group, whatever the image's raw ITA; the group counts decide, so a run written
    before ``groups.ita.n_known`` meant the same says the same as its table."""
    counts = {str(k): v for k, v in as_dict(groups.get("counts")).items() if fmt.is_number(v)}
    ita = as_dict(groups.get("ita"))
    total = ita.get("n") if fmt.is_number(ita.get("n")) else (sum(counts.values()) if counts else None)
    if total is None:
        return None, None
    if counts:
        return int(total), int(total) - int(counts.get(UNKNOWN, 0))
    known = ita.get("n_known")
    return int(total), int(known) if fmt.is_number(known) else None


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
            matrix = matrix_view(counts, rows_lbl, cols_lbl)
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
