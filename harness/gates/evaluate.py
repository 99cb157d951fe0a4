"""Gates: turn an audit's numbers into PASS / WARN / FAIL / INSUFFICIENT verdicts for CI.

A gate file is YAML with a ``gates:`` list (syntax in docs/gates.md). Each gate names a metric, a
scope (``overall``, ``each_group``, ``worst_group``, ``group_gap``), optionally a grouping, a
perturbation and severities, and bounds. Verdicts use the 95% intervals the metrics carry:

- FAIL: the whole interval breaches a hard bound (``min``/``max``);
- WARN: only the point estimate breaches a hard bound, or it breaches a soft bound
  (``warn_min``/``warn_max``);
- INSUFFICIENT: the group or cell has too little evidence, or the value or its interval is
  undefined;
- PASS: otherwise.

A run passes when no verdict is FAIL (with ``strict``, also no WARN). Regression gates
(``max_regression``) compare a candidate with a baseline and are evaluated by ``harness compare``
(:func:`evaluate_regression_gates`); ``harness run``/``harness gate`` list them as skipped.

This module reads only plain dicts (the parsed ``results.json`` or ``comparison.json``): it
imports neither numpy nor pandas, so ``harness gate`` re-checks a run in a fraction of a second.
"""
from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from statistics import NormalDist

from harness.gates.file import (ALL_METRICS, BETWEEN_GROUP_STATISTICS, CELL_METRICS,
                               CLASS_METRICS, DEFAULT_GROUPING, DRIFT_METRICS, DROP_METRICS,
                               FLIP_METRICS, SCOPES, VERDICTS, Gate, higher_is_better, load_gates,
                               metric_kind)
from harness.metrics.catalogue import CATALOGUE
from harness.gates.junit import format_verdicts, write_junit
from harness.gates.variants import gate_error, resolve_variants, run_families
from harness.gates.summary import with_gate_summary
from harness.results.variants import split_variant

__all__ = [
    "ALL_METRICS", "BETWEEN_GROUP_STATISTICS", "CELL_METRICS", "DRIFT_METRICS", "DROP_METRICS",
    "FLIP_METRICS", "SCOPES", "VERDICTS", "Gate", "check_gates", "evaluate_gates",
    "evaluate_regression_gates", "format_verdicts", "gates_section", "judge", "load_gates",
    "resolve_variants", "run_families", "write_junit",
]

DECISION_RULE = (
    "FAIL when the whole interval breaches a hard bound (min/max); WARN when only the point "
    "estimate breaches it, or when it breaches a soft bound (warn_min/warn_max); INSUFFICIENT when "
    "the group or cell has too little evidence or the value or its interval is undefined; PASS "
    "otherwise. A value equal to a bound is within it. The run fails on any FAIL (strict: on any "
    "WARN too); INSUFFICIENT does not fail it."
)
_APPROX_METHOD = ("normal approximation from the two groups' own intervals (groups are resampled "
                  "independently)")


# --------------------------------------------------------------------------------- evaluation
def evaluate_gates(results: Mapping, gates: list[Gate], *, strict: bool = False) -> dict:
    """Judge every absolute gate on one run's results.

    Parameters
    ----------
    results : the parsed ``results.json`` (its ``metrics`` and ``gradcam`` sections are read).
    gates : from :func:`load_gates`. Regression gates are listed under ``skipped`` (they need a
        baseline: ``harness compare``).
    strict : WARN fails the run too.

    Returns
    -------
    The ``gates`` section: ``{"passed", "strict", "counts": {verdict: n}, "verdicts": [...],
    "decision_rule", "skipped": [...], "by_gate": [...], "gate_counts", "gates_failing"}``; one
    verdict per gate × variant × scope element, and one ``by_gate`` entry per gate (see
    docs/gates.md for the fields).

    Raises
    ------
    UserError
        A gate names a grouping, group or perturbation this run does not have (one line naming the
        gate and how to re-run).
    """
    rows: list[dict] = []
    skipped: list[dict] = []
    for gate in gates:
        if gate.kind == "regression":
            skipped.append({"name": gate.name, "metric": gate.metric,
                            "reason": "regression gate: judged by 'harness compare' against a "
                                      "baseline run"})
            continue
        rows.extend(_evaluate_absolute(results, gate))
    return gates_section(rows, strict=strict, skipped=skipped)


def gates_section(rows: list[dict], *, strict: bool, skipped: list[dict] | None = None) -> dict:
    """Assemble a ``gates`` section from verdict rows, with its per-gate summary
    (``by_gate``, ``gate_counts``, ``gates_failing``: :mod:`harness.gates.summary`)."""
    counts = {k: 0 for k in VERDICTS}
    for r in rows:
        counts[r["verdict"]] += 1
    passed = counts["FAIL"] == 0 and (not strict or counts["WARN"] == 0)
    out = {"passed": passed, "strict": bool(strict), "counts": counts, "verdicts": rows,
           "decision_rule": DECISION_RULE}
    if skipped:
        out["skipped"] = skipped
    return with_gate_summary(out)


def _metrics_grouping(results: Mapping, gate: Gate) -> tuple[dict, dict]:
    metrics = results.get("metrics")
    if not isinstance(metrics, Mapping) or not isinstance(metrics.get("groupings"), Mapping):
        raise gate_error(gate, "these results have no metrics section; re-run the audit")
    groupings = metrics["groupings"]
    if gate.grouping not in groupings:
        have = ", ".join(groupings) or "none"
        raise gate_error(gate, f"grouping {gate.grouping!r} is not in this run (it has: {have}); a "
                                f"label grouping needs a manifest column of that name")
    return metrics, groupings[gate.grouping]


def check_gates(gates: list[Gate], *, variants: Iterable[str],
                groupings: Iterable[str] | None = None,
                audit: Mapping | None = None) -> None:
    """Fail early: raise the UserError :func:`evaluate_gates` would raise for a run with these
    perturbed variants (e.g. ``["blur@1", ...]``) and groupings, before any expensive work.

    ``audit`` (``{"audit": "kclass" | "binary", "class_names": [...]}``, as the metrics section
    will say; None while the model is not open) also checks each gate's metric kind and
    ``class:`` against the audit. Regression
    gates are not checked (they need a baseline). Whether a pair of named groups exists is known
    only once the groups are estimated; :func:`evaluate_gates` checks it.
    """
    names = ["clean"] + [str(v) for v in variants if v != "clean"]
    have = None if groupings is None else [str(g) for g in groupings]
    for gate in gates:
        if gate.kind == "regression":
            continue
        if have is not None and gate.grouping not in have:
            raise gate_error(gate, f"grouping {gate.grouping!r} is not in this run (it has: "
                                    f"{', '.join(have) or 'none'}); a label grouping needs a "
                                    f"manifest column of that name")
        resolve_variants(gate, names)
        if audit is not None:
            _check_audit(audit, gate)


def _check_audit(metrics: Mapping, gate: Gate) -> None:
    """A gate whose metric this run's audit (binary or K-class) does not compute, or whose class
    the model does not have, is an error that names both."""
    audit = "kclass" if metrics.get("audit") == "kclass" else "binary"
    if audit not in CATALOGUE[gate.metric].audits:
        if audit == "kclass":
            raise gate_error(gate, f"{gate.metric} is a binary metric and this is a K-class audit; "
                                   f"use a K-class metric (balanced_accuracy, macro_f1, ...) or a "
                                   f"per-class one with 'class: NAME', or audit with "
                                   f"--positive-class")
        raise gate_error(gate, f"{gate.metric} is a K-class metric and this is a binary audit "
                               f"(one positive class); use a binary metric")
    names = [str(c) for c in metrics.get("class_names") or []]
    if gate.class_name is not None and gate.class_name not in names:
        raise gate_error(gate, f"class {gate.class_name!r} is not a class of this audit (its "
                               f"classes: {', '.join(names) or 'none'})")


def _evaluate_absolute(results: Mapping, gate: Gate) -> list[dict]:
    metrics, gr = _metrics_grouping(results, gate)
    _check_audit(metrics, gate)
    variants = resolve_variants(gate, list(metrics.get("variants") or ["clean"]))
    exclude = set((metrics.get("settings") or {}).get("gap_exclude") or [])
    level = float((metrics.get("settings") or {}).get("ci_level") or 0.95)
    groups = [str(g) for g in gr.get("groups") or []]
    if isinstance(gate.groups, tuple):
        missing = [g for g in gate.groups if g not in groups]
        if missing:
            raise gate_error(gate, f"group {missing[0]!r} is not in grouping {gate.grouping!r} "
                                    f"(its groups: {', '.join(groups) or 'none'})")
    judged = [g for g in groups if g not in exclude]
    rows = []
    for variant in variants:
        if metric_kind(gate.metric) == "drift":
            unavailable = _gradcam_unavailable(results)
            if unavailable:
                rows.append(_row(gate, variant, _insufficient(unavailable), group=None))
                continue

        def get(group: str | None, variant=variant) -> dict:
            return _value(results, gr, gate.metric, variant, group, class_name=gate.class_name)

        for judged_value, group in _scope_values(gate, gr, variant, judged, get, level):
            rows.append(_row(gate, variant, judged_value, group=group))
    return rows


def _scope_values(gate: Gate, gr: Mapping, variant: str, judged: list[str], get, level: float):
    """(value dict, group or None) per scope element."""
    if gate.scope == "overall":
        yield get(None), None
    elif gate.scope == "each_group":
        for g in judged:
            yield get(g), g
    elif gate.scope == "worst_group":
        yield _worst(gate.metric, judged, get, lambda v: v["value"]), None
    elif metric_kind(gate.metric) == "gap":
        yield _eod_value(gr, gate.metric, variant), None
    elif metric_kind(gate.metric) in ("cell", "class"):
        yield _cell_gap(gr, gate, variant, get, level), None
    else:
        yield _approx_gap(gate, judged, get, level), None


def _insufficient(reason: str, n=None) -> dict:
    return {"status": "insufficient", "value": None, "ci": None, "n": n, "ci_method": None,
            "reason": reason}


def _ok(entry: Mapping, n=None) -> dict:
    return {"status": "ok", "value": entry.get("value"), "ci": entry.get("ci"),
            "n": entry.get("n", n), "ci_method": entry.get("ci_method"),
            "reason": entry.get("reason")}


def _value(results: Mapping, gr: Mapping, metric: str, variant: str, group: str | None, *,
           class_name: str | None = None) -> dict:
    """The judged value of one cell: ``{"status", "value", "ci", "n", "ci_method", "reason"}``;
    a per-class metric is read from the cell's ``classes.<class_name>``."""
    kind = metric_kind(metric)
    if group is not None:
        st = (gr.get("status") or {}).get(group) or {}
        if st.get("status") == "insufficient":
            return _insufficient(st.get("reason") or "too few images", st.get("n"))
    if kind in ("cell", "class"):
        cells = (gr.get("variants") or {}).get(variant) or {}
        cell = cells.get("overall") if group is None else (cells.get("groups") or {}).get(group)
        if not isinstance(cell, Mapping):
            return _insufficient(f"no cell for {group or 'overall'} at {variant}")
        if cell.get("status") != "ok":
            return _insufficient(cell.get("reason") or "too few images", cell.get("n"))
        if kind == "class":
            item = (cell.get("classes") or {}).get(class_name)
            if not isinstance(item, Mapping):
                return _insufficient(f"no class {class_name} in the cell")
            if item.get("status") != "ok":
                return _insufficient(item.get("reason") or "too few images of the class",
                                     item.get("support"))
            return _ok(item.get(CLASS_METRICS[metric]) or {"reason": "not computed"})
        return _ok((cell.get("metrics") or {}).get(metric) or {"reason": "not computed"})
    if kind in ("flip", "drop"):
        rob = (gr.get("robustness") or {}).get(variant) or {}
        cell = rob.get("overall") if group is None else (rob.get("groups") or {}).get(group)
        if not isinstance(cell, Mapping):
            return _insufficient(f"no robustness cell for {group or 'overall'} at {variant}")
        if cell.get("status") != "ok":
            return _insufficient(cell.get("reason") or "too few images", cell.get("n"))
        if kind == "flip":
            return _ok(cell.get(metric) or {"reason": "not computed"}, cell.get("n"))
        base, which = DROP_METRICS[metric]
        return _ok(((cell.get("drop") or {}).get(base) or {}).get(which)
                   or {"reason": "not computed"}, cell.get("n"))
    if kind == "drift":
        drift = ((results.get("gradcam") or {}).get("drift") or {}).get(variant)
        if not isinstance(drift, Mapping):
            return _insufficient(f"no Grad-CAM drift for {variant}")
        part = drift.get("overall") if group is None else (drift.get("by_group") or {}).get(group)
        if not isinstance(part, Mapping):
            return _insufficient(f"no Grad-CAM images in group {group}")
        e = (part.get("all") or {}).get(DRIFT_METRICS[metric]) or {}
        return {"status": "ok", "value": e.get("median"), "ci": e.get("median_ci"),
                "n": e.get("n"), "ci_method": "bootstrap" if e.get("median_ci") else None,
                "reason": e.get("reason")}
    raise ValueError(f"{metric!r} has no per-cell value")


def _gradcam_unavailable(results: Mapping) -> str | None:
    g = results.get("gradcam")
    if not isinstance(g, Mapping):
        return "no Grad-CAM section in these results"
    if not g.get("available", False):
        return f"Grad-CAM not available ({g.get('reason') or 'not computed'})"
    return None


def _defined(v: dict) -> bool:
    return v["status"] == "ok" and _is_num(v["value"])


def _worst(metric: str, judged: list[str], get, key) -> dict:
    """The worst group's value (by point estimate and direction; first in order on ties)."""
    values = [(g, get(g)) for g in judged]
    usable = [(g, v) for g, v in values if _defined(v)]
    if len(usable) < 2:
        return _insufficient(f"fewer than 2 groups with enough evidence to compare "
                             f"({len(usable)} of {len(judged)})")
    sign = 1.0 if higher_is_better(metric) else -1.0
    group, v = min(usable, key=lambda gv: sign * key(gv[1]))
    return {**v, "groups": [group], "worst_group": group}


def _eod_value(gr: Mapping, metric: str, variant: str) -> dict:
    gaps = ((gr.get("variants") or {}).get(variant) or {}).get("gaps") or {}
    if gaps.get("status") != "ok":
        return _insufficient(gaps.get("reason") or "fewer than 2 groups to compare")
    eod = gaps.get("equalized_odds_difference") or {}
    sub = BETWEEN_GROUP_STATISTICS[metric]
    entry = eod if sub is None else (eod.get(sub) or {})
    return {**_ok(entry), "groups": list(gaps.get("groups") or []), "ci_method": "bootstrap"}


def _cell_gap(gr: Mapping, gate: Gate, variant: str, get, level: float) -> dict:
    gaps = ((gr.get("variants") or {}).get(variant) or {}).get("gaps") or {}
    if gaps.get("status") != "ok":
        return _insufficient(gaps.get("reason") or "fewer than 2 groups to compare")
    if gate.class_name is not None:
        mg = ((gaps.get("classes") or {}).get(gate.class_name) or {}).get(
            CLASS_METRICS[gate.metric]) or {}
    else:
        mg = (gaps.get("metrics") or {}).get(gate.metric) or {}
    fvl = mg.get("first_vs_last") or {}
    first, last = fvl.get("first"), fvl.get("last")
    if gate.groups is None:
        return {**_ok(mg.get("difference") or {}), "ci_method": "bootstrap",
                "groups": [mg.get("max_group"), mg.get("min_group")]}
    pair = (first, last) if gate.groups == "first_vs_last" else gate.groups
    if pair == (first, last):
        return {**_ok(fvl.get("difference") or {}), "ci_method": "bootstrap", "groups": list(pair)}
    if pair == (last, first):
        d = _ok(fvl.get("difference") or {})
        return {**d, "value": _neg(d["value"]), "ci": _neg_ci(d["ci"]), "ci_method": "bootstrap",
                "groups": list(pair)}
    return _pair_difference(pair, get, level)


def _approx_gap(gate: Gate, judged: list[str], get, level: float) -> dict:
    """Gap of a robustness or drift metric from the groups' own intervals (no paired replicates
    of it are stored): max − min, first − last, or a named pair."""
    if isinstance(gate.groups, tuple):
        return _pair_difference(gate.groups, get, level)
    usable = [(g, get(g)) for g in judged]
    usable = [(g, v) for g, v in usable if _defined(v)]
    if len(usable) < 2:
        return _insufficient(f"fewer than 2 groups with enough evidence to compare "
                             f"({len(usable)} of {len(judged)})")
    if gate.groups == "first_vs_last":
        pair = (usable[0][0], usable[-1][0])
    else:
        hi = max(usable, key=lambda gv: gv[1]["value"])[0]
        lo = min(usable, key=lambda gv: gv[1]["value"])[0]
        pair = (hi, lo)
    return _pair_difference(pair, get, level)


def _pair_difference(pair: tuple[str, str], get, level: float) -> dict:
    a, b = get(pair[0]), get(pair[1])
    for g, v in zip(pair, (a, b)):
        if v["status"] != "ok":
            return _insufficient(f"group {g}: {v['reason']}")
        if not _is_num(v["value"]):
            return _insufficient(f"group {g}: value undefined ({v.get('reason') or 'no reason'})")
        if not _is_ci(v["ci"]):
            return _insufficient(f"group {g}: no interval ({v.get('reason') or 'no reason'})")
    z = NormalDist().inv_cdf((1 + level) / 2)
    se = math.hypot((a["ci"][1] - a["ci"][0]) / (2 * z), (b["ci"][1] - b["ci"][0]) / (2 * z))
    d = a["value"] - b["value"]
    return {"status": "ok", "value": d, "ci": [d - z * se, d + z * se], "n": None,
            "ci_method": _APPROX_METHOD, "reason": None, "groups": list(pair)}


def _neg(x):
    return 0.0 - x if _is_num(x) else None      # 0.0 - x: no negative zero


def _neg_ci(ci):
    return [0.0 - ci[1], 0.0 - ci[0]] if _is_ci(ci) else None


def _is_num(x) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)


def _is_ci(ci) -> bool:
    return isinstance(ci, (list, tuple)) and len(ci) == 2 and all(_is_num(c) for c in ci)


# ------------------------------------------------------------------------------ the variants
# ---------------------------------------------------------------------------------- verdicts
def judge(value, ci, *, bound: Mapping, warn_bound: Mapping | None = None) -> tuple[str, str]:
    """(verdict, why) for a value and its interval against hard and soft bounds.

    ``bound``/``warn_bound`` hold ``"min"`` and/or ``"max"``. Undefined value or interval ->
    INSUFFICIENT.
    """
    warn_bound = warn_bound or {}
    if not _is_num(value):
        return "INSUFFICIENT", "value undefined"
    if not _is_ci(ci):
        return "INSUFFICIENT", "no interval"
    lo, hi = ci
    bmin, bmax = bound.get("min"), bound.get("max")
    if bmax is not None and lo > bmax:
        return "FAIL", f"the whole interval is above max {_g(bmax)}"
    if bmin is not None and hi < bmin:
        return "FAIL", f"the whole interval is below min {_g(bmin)}"
    if bmax is not None and value > bmax:
        return "WARN", f"point estimate above max {_g(bmax)}, but the interval reaches it"
    if bmin is not None and value < bmin:
        return "WARN", f"point estimate below min {_g(bmin)}, but the interval reaches it"
    wmin, wmax = warn_bound.get("min"), warn_bound.get("max")
    if wmax is not None and value > wmax:
        return "WARN", f"above warn_max {_g(wmax)}"
    if wmin is not None and value < wmin:
        return "WARN", f"below warn_min {_g(wmin)}"
    return "PASS", "within bounds"


def _g(x: float) -> str:
    return f"{x:.4g}"


def _fmt(x) -> str:
    return f"{x:.3f}" if _is_num(x) else "undefined"


def _variant_fields(variant: str) -> tuple[str | None, int | None]:
    if variant == "clean":
        return None, None
    fs = split_variant(variant)
    if fs is None:
        return variant, None
    return fs[0], fs[1]


def _row(gate: Gate, variant: str, v: dict, *, group: str | None, kind: str = "absolute",
         value_label: str | None = None, extra: Mapping | None = None) -> dict:
    perturbation, severity = _variant_fields(variant)
    bound = gate.bound()
    warn = gate.warn_bound() if kind == "absolute" else {}
    if v["status"] == "insufficient":
        verdict, why = "INSUFFICIENT", v["reason"] or "too little evidence"
    else:
        verdict, why = judge(v["value"], v["ci"], bound=bound, warn_bound=warn)
        if verdict == "INSUFFICIENT" and v.get("reason"):
            why = v["reason"] if "interval" in v["reason"] else f"{why}: {v['reason']}"
    where = _where(gate.scope, group, v.get("groups"), variant, gate.grouping,
                   across=metric_kind(gate.metric) == "gap")
    what = value_label or (gate.metric if gate.class_name is None
                           else f"{CLASS_METRICS[gate.metric]} of {gate.class_name}")
    if verdict == "INSUFFICIENT":
        message = f"{verdict} {gate.name}: {what} {where}: {why}"
    else:
        ci = f" [{_fmt(v['ci'][0])}, {_fmt(v['ci'][1])}]" if _is_ci(v["ci"]) else ""
        n = f" (n={v['n']})" if _is_num(v.get("n")) else ""
        message = f"{verdict} {gate.name}: {what} {_fmt(v['value'])}{ci}{n} {where}: {why}"
    row = {
        "name": gate.name, "kind": kind, "metric": gate.metric, "scope": gate.scope,
        "group": group, "groups": v.get("groups"), "grouping": gate.grouping,
        "perturbation": perturbation, "severity": severity, "variant": variant,
        "value": v["value"] if _is_num(v["value"]) else None,
        "ci": list(v["ci"]) if _is_ci(v["ci"]) else None, "ci_method": v.get("ci_method"),
        "n": v.get("n") if _is_num(v.get("n")) else None,
        "bound": bound, "warn_bound": warn, "verdict": verdict, "message": message,
        "reason": None if verdict == "PASS" else why,
    }
    if gate.class_name is not None:
        row["class"] = gate.class_name
    if extra:
        row.update(extra)
    return row


def _where(scope: str, group, groups, variant: str, grouping: str, *, across: bool = False) -> str:
    parts = []
    if scope == "overall":
        parts.append("overall")
    elif scope == "each_group":
        parts.append(f"in group {group}")
    elif scope == "worst_group":
        parts.append(f"in the worst group ({groups[0]})" if groups else "in the worst group")
    elif across:
        parts.append(f"across groups {', '.join(groups)}" if groups else "across groups")
    elif groups and len(groups) == 2:
        parts.append(f"gap {groups[0]} − {groups[1]}")
    else:
        parts.append("between groups")
    if grouping != DEFAULT_GROUPING:
        parts.append(f"by {grouping}")
    parts.append("on clean images" if variant == "clean" else f"at {variant}")
    return " ".join(parts)


# ------------------------------------------------------------------------- regression gates
def evaluate_regression_gates(comparison: Mapping, gates: list[Gate]) -> list[dict]:
    """Verdict rows of the regression gates against a ``compare`` result.

    The judged value is the candidate's regression: baseline − candidate for a higher-is-better
    metric, candidate − baseline otherwise (positive = the candidate is worse), with its paired
    interval; the bound is ``max: max_regression``. Scopes: overall, each_group, worst_group (the
    group with the largest regression) and group_gap (the change of the max − min gap, or of the
    equalized-odds difference, on clean images).
    """
    rows = []
    for gate in gates:
        if gate.kind != "regression":
            continue
        groupings = comparison.get("groupings") or {}
        if gate.grouping not in groupings:
            raise gate_error(gate, f"grouping {gate.grouping!r} is in only one of the two runs or "
                                    f"neither (compared: {', '.join(groupings) or 'none'})")
        cg = groupings[gate.grouping]
        variants = resolve_variants(gate, list(comparison.get("variants") or ["clean"]),
                                    subject="the pair of runs (variants both have)")
        judged = [g for g in cg.get("groups") or []
                  if g not in set(comparison.get("settings", {}).get("gap_exclude") or [])]
        for variant in variants:
            def get(group, variant=variant):
                return _regression_value(cg, gate.metric, variant, group,
                                         class_name=gate.class_name)

            if gate.scope == "overall":
                items = [(get(None), None)]
            elif gate.scope == "each_group":
                items = [(get(g), g) for g in judged]
            elif gate.scope == "worst_group":
                items = [(_worst_regression(judged, get), None)]
            else:
                items = [(_gap_regression(cg, gate.metric), None)]
            what = (gate.metric if gate.class_name is None
                    else f"{CLASS_METRICS[gate.metric]} of {gate.class_name}")
            for v, group in items:
                rows.append(_row(gate, variant, v, group=group, kind="regression",
                                 value_label=f"{what} regression",
                                 extra={"baseline": v.get("baseline"),
                                        "candidate": v.get("candidate")}))
    return rows


def _orient(d: Mapping, higher: bool, n=None) -> dict:
    """A compare delta entry -> regression value (positive = candidate worse)."""
    delta, ci = d.get("delta"), d.get("ci")
    value = _neg(delta) if higher else (delta if _is_num(delta) else None)
    ci = (_neg_ci(ci) if higher else (list(ci) if _is_ci(ci) else None))
    out = {"status": "ok", "value": value, "ci": ci, "n": d.get("n", n),
           "ci_method": "paired bootstrap", "reason": d.get("reason"),
           "baseline": d.get("baseline"), "candidate": d.get("candidate")}
    return out


def _regression_value(cg: Mapping, metric: str, variant: str, group: str | None, *,
                      class_name: str | None = None) -> dict:
    if group is not None:
        st = (cg.get("status") or {}).get(group) or {}
        if st.get("status") == "insufficient":
            return _insufficient(st.get("reason") or "too few images", st.get("n"))
    if variant == "clean" and (metric in CELL_METRICS or metric in CLASS_METRICS):
        deltas = cg.get("deltas") or {}
        cell = deltas.get("overall") if group is None else (deltas.get("groups") or {}).get(group)
    else:
        rob = (cg.get("robustness") or {}).get(variant) or {}
        cell = rob.get("overall") if group is None else (rob.get("groups") or {}).get(group)
    if not isinstance(cell, Mapping):
        return _insufficient(f"no paired delta for {group or 'overall'} at {variant}")
    if cell.get("status") == "insufficient":
        return _insufficient(cell.get("reason") or "too few images")
    d = cell.get(metric) if class_name is None else \
        ((cell.get("classes") or {}).get(class_name) or {}).get(CLASS_METRICS[metric])
    if not isinstance(d, Mapping):
        return _insufficient(f"no paired delta of {metric} at {variant}")
    return _orient(d, higher_is_better(metric))


def _worst_regression(judged: list[str], get) -> dict:
    usable = [(g, get(g)) for g in judged]
    usable = [(g, v) for g, v in usable if _defined(v)]
    if not usable:
        return _insufficient("no group with enough evidence")
    group, v = max(usable, key=lambda gv: gv[1]["value"])
    return {**v, "groups": [group]}


def _gap_regression(cg: Mapping, metric: str) -> dict:
    gaps = cg.get("gaps") or {}
    if gaps.get("status") != "ok":
        return _insufficient(gaps.get("reason") or "fewer than 2 groups to compare")
    d = gaps.get(metric) if metric == "equalized_odds_difference" else \
        (gaps.get("metrics") or {}).get(metric)
    if not isinstance(d, Mapping):
        return _insufficient(f"no gap delta of {metric}")
    return _orient(d, higher=False)   # a gap: lower is better
