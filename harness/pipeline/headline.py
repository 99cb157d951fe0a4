"""What we found: the few numbers a reviewer reads first, chosen from an audit's results.

Pure functions of the assembled results (``metrics`` and ``gradcam``); the findings step
(:mod:`harness.pipeline.findings`) writes :func:`what_we_found` as ``findings.what_we_found``
and the report shows it at the top of its summary, computing none of it. The gate verdicts the
block also shows are the ``gates`` section's own (``gates.counts``, ``gates.by_gate``: written
when the gates are judged, after the findings).

Every number is a metric entry as ``results.json`` holds it (value, interval, n), so it is shown
with its interval and n. A group too small to judge is never the worst gap, never the group a
perturbation hurts most: it appears only in ``too_small``, with its estimate, interval and reason.
"""
from __future__ import annotations

import math
import numbers
from collections.abc import Mapping
from typing import Any

from harness.metrics.catalogue import HEADLINE_METRICS

CLEAN = "clean"
GROUP_GROUPING = "group"
#: The metric a perturbation's harm is measured by (clean − perturbed, paired intervals).
HARM_METRIC = "balanced_accuracy"
#: The Grad-CAM drift similarity the block reports (the CI gate's ``drift_cosine``).
DRIFT_SIMILARITY = "cosine"
#: The noise floor the drift is read against: a one-pixel shift of the clean heatmap.
NOISE_FLOOR = "shift_1px"


def _number(x: Any) -> bool:
    return isinstance(x, numbers.Real) and not isinstance(x, bool) and math.isfinite(float(x))


def _mapping(x: Any) -> Mapping:
    return x if isinstance(x, Mapping) else {}


def _entry(x: Any) -> dict | None:
    """A metric entry ``{"value", "ci", "n", ...}`` as written, or None when there is none."""
    return dict(x) if isinstance(x, Mapping) else None


def headline_grouping(results: Mapping) -> tuple[str | None, Mapping]:
    """(name, section) of the grouping a summary speaks of: the estimated skin tone ``group``,
    else the first grouping of ``metrics.groupings``; ``(None, {})`` when there is none."""
    groupings = {k: v for k, v in _mapping(_mapping(results.get("metrics")).get("groupings")).items()
                 if isinstance(v, Mapping)}
    name = GROUP_GROUPING if GROUP_GROUPING in groupings else next(iter(groupings), None)
    return name, groupings.get(name, {})


def _judged_groups(gr: Mapping) -> list[str]:
    """The groups a grouping judges: ``gap_groups`` (status ok, not excluded), else the groups
    whose status is ok."""
    listed = gr.get("gap_groups")
    if isinstance(listed, list):
        return [str(g) for g in listed]
    status = _mapping(gr.get("status"))
    return [str(g) for g in gr.get("groups") or [] if _mapping(status.get(g)).get("status") == "ok"]


def excludes_zero(ci: Any) -> bool:
    """Whether an interval ``[lo, hi]`` lies wholly above or below 0."""
    return (isinstance(ci, (list, tuple)) and len(ci) == 2 and all(_number(c) for c in ci)
            and (ci[0] > 0 or ci[1] < 0))


def worst_gap(gr: Mapping) -> dict | None:
    """The largest between-group gap on clean images among the headline metrics.

    The gap is ``gaps.metrics[m].difference`` (max − min over the groups the grouping judges);
    the largest point estimate wins, the first metric of ``HEADLINE_METRICS`` a tie.

    Returns
    -------
    ``{"metric", "variant": "clean", "worst_group", "best_group", "worst": M, "best": M,
    "difference": G, "excludes_zero"}`` (``M`` the two groups' cell entries, ``G`` the gap entry,
    as written), or None when no gap is defined.
    """
    cells = _mapping(_mapping(gr.get("variants")).get(CLEAN))
    gaps = _mapping(cells.get("gaps"))
    if gaps.get("status") != "ok":
        return None
    best: dict | None = None
    for metric in HEADLINE_METRICS:
        gm = _mapping(_mapping(gaps.get("metrics")).get(metric))
        diff = _mapping(gm.get("difference"))
        if not _number(diff.get("value")):
            continue
        if best is not None and not diff["value"] > best["difference"]["value"]:
            continue
        worst_g, best_g = gm.get("worst_group"), gm.get("best_group")
        groups = _mapping(cells.get("groups"))
        best = {"metric": metric, "variant": CLEAN, "worst_group": worst_g, "best_group": best_g,
                "worst": _entry(_mapping(_mapping(groups.get(worst_g)).get("metrics")).get(metric)),
                "best": _entry(_mapping(_mapping(groups.get(best_g)).get("metrics")).get(metric)),
                "difference": dict(diff), "excludes_zero": excludes_zero(diff.get("ci"))}
    return best


def too_small(gr: Mapping, exclude: Any = ()) -> list[dict]:
    """The groups too small to judge (status insufficient, not in ``exclude``: the metrics'
    ``settings.gap_exclude``, e.g. ``unknown``), in the grouping's order:
    ``[{"group", "n", "reason", "balanced_accuracy": M}]`` (``M`` the group's clean balanced
    accuracy as written, with its wide interval; None when there is none)."""
    status = _mapping(gr.get("status"))
    exclude = {str(g) for g in exclude or ()}
    cells = _mapping(_mapping(_mapping(gr.get("variants")).get(CLEAN)).get("groups"))
    out = []
    for g in gr.get("groups") or list(status):
        st = _mapping(status.get(g))
        if st.get("status") != "insufficient" or str(g) in exclude:
            continue
        ba = _mapping(_mapping(cells.get(g)).get("metrics")).get("balanced_accuracy")
        out.append({"group": str(g), "n": st.get("n"), "reason": st.get("reason"),
                    "balanced_accuracy": _entry(ba)})
    return out


def _drop(cell: Mapping) -> dict | None:
    return _entry(_mapping(_mapping(cell.get("drop")).get(HARM_METRIC)).get("absolute"))


def hurts_most(gr: Mapping) -> dict | None:
    """The perturbed variant that costs the most balanced accuracy, and the group it costs most.

    The overall absolute drop (clean − variant, positive = worse, paired intervals) decides the
    variant (the first listed wins a tie); the group is the judged group (``gap_groups``) with the
    largest drop under it (None when no judged group has a defined drop).

    Returns
    -------
    ``{"metric": "balanced_accuracy", "variant", "drop": M, "flip_rate": M, "group",
    "group_drop": M, "group_flip_rate": M}`` (entries as written), or None when no variant has a
    defined drop.
    """
    rob = _mapping(gr.get("robustness"))
    chosen: tuple[str, Mapping, dict] | None = None
    for variant, r in rob.items():
        overall = _mapping(_mapping(r).get("overall"))
        d = _drop(overall)
        if d is not None and _number(d.get("value")) and (chosen is None
                                                           or d["value"] > chosen[2]["value"]):
            chosen = (str(variant), r, d)
    if chosen is None:
        return None
    variant, r, d = chosen
    cells = _mapping(r.get("groups"))
    group, group_drop = None, None
    for g in _judged_groups(gr):
        cell = _mapping(cells.get(g))
        gd = _drop(cell) if cell.get("status") == "ok" else None
        if gd is not None and _number(gd.get("value")) and (group_drop is None
                                                             or gd["value"] > group_drop["value"]):
            group, group_drop = g, gd
    return {"metric": HARM_METRIC, "variant": variant, "drop": d,
            "flip_rate": _entry(_mapping(r.get("overall")).get("flip_rate")),
            "group": group, "group_drop": group_drop,
            "group_flip_rate": (_entry(_mapping(cells.get(group)).get("flip_rate"))
                                if group is not None else None)}


def _drift_entry(part: Any) -> dict | None:
    """A drift summary ``{"median", "median_ci", "n", "reason"}`` as a metric entry."""
    e = _mapping(_mapping(_mapping(part).get("all")).get(DRIFT_SIMILARITY))
    if not _number(e.get("median")):
        return None
    return {"value": e["median"], "ci": e.get("median_ci"), "n": e.get("n"),
            "ci_method": "bootstrap" if e.get("median_ci") else None, "reason": e.get("reason")}


def gradcam_finding(results: Mapping) -> dict:
    """Where the model's attention moves most: the perturbed variant with the lowest median
    Grad-CAM cosine similarity to the clean heatmap, and the group whose attention moves most under
    it (among groups whose median has an interval: enough images; not the groups left out of
    gaps, such as ``unknown``).

    Returns
    -------
    ``{"available", "reason", "metric": "cosine", "variant", "drift": M, "group", "group_drift": M,
    "noise_floor": M}`` (``M`` a median with its bootstrap interval and n; ``noise_floor`` the same
    similarity for a one-pixel shift of the clean heatmap). ``available`` False with the reason when
    Grad-CAM was not run; ``variant`` None when no perturbed variant has a drift.
    """
    g = _mapping(results.get("gradcam"))
    out = {"available": bool(g.get("available", False)), "reason": None,
           "metric": DRIFT_SIMILARITY, "variant": None, "drift": None, "group": None,
           "group_drift": None, "noise_floor": None}
    if not g:
        return {**out, "reason": "no Grad-CAM section in these results"}
    if not out["available"]:
        return {**out, "reason": str(g.get("reason") or "not computed")}
    for variant, d in _mapping(g.get("drift")).items():
        e = _drift_entry(_mapping(d).get("overall"))
        if e is not None and (out["drift"] is None or e["value"] < out["drift"]["value"]):
            out["variant"], out["drift"] = str(variant), e
    if out["variant"] is None:
        return {**out, "reason": "no perturbed variant has a Grad-CAM drift"}
    by_group = _mapping(_mapping(_mapping(g.get("drift")).get(out["variant"])).get("by_group"))
    # the groups left out of gaps (``unknown``: no skin-tone estimate) are not skin-tone groups
    exclude = {str(x) for x in _mapping(_mapping(results.get("metrics")).get("settings"))
               .get("gap_exclude") or ()}
    for group, part in by_group.items():
        if str(group) in exclude:
            continue
        e = _drift_entry(part)
        if e is None or not isinstance(e.get("ci"), list):
            continue   # too few explained images in the group: no interval, never named
        if out["group_drift"] is None or e["value"] < out["group_drift"]["value"]:
            out["group"], out["group_drift"] = str(group), e
    out["noise_floor"] = _drift_entry(_mapping(_mapping(g.get("noise_floor")).get(NOISE_FLOOR))
                                      .get("overall"))
    return out


def what_we_found(results: Mapping) -> dict:
    """The ``findings.what_we_found`` section (docs/results-schema.md): ``{"grouping",
    "worst_gap", "gap_reason", "too_small", "hurts_most", "gradcam"}`` of the headline grouping
    (the estimated skin tone ``group``, else the first grouping)."""
    name, gr = headline_grouping(results)
    gaps = _mapping(_mapping(_mapping(gr.get("variants")).get(CLEAN)).get("gaps"))
    gap = worst_gap(gr)
    reason = None
    if gap is None:
        reason = str(gaps.get("reason") or "no gap between groups is defined")
    exclude = _mapping(_mapping(results.get("metrics")).get("settings")).get("gap_exclude")
    return {"grouping": name, "worst_gap": gap, "gap_reason": reason,
            "too_small": too_small(gr, exclude),
            "hurts_most": hurts_most(gr), "gradcam": gradcam_finding(results)}
