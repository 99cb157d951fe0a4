"""Gate verdicts as a table: what ``harness.gates.evaluate`` wrote, for the run report and the
comparison page."""
from __future__ import annotations

from typing import Any

from reports import fmt
from reports.views.common import CLEAN, GROUP_GROUPING, as_dict, as_list, dig, status_n, text


def gates_view(results: dict) -> dict | None:
    """Gate verdicts (``harness.gates.evaluate``): one row per verdict, counts, skipped gates, the
    rule, and one row per gate (``gates.by_gate``, :mod:`harness.gates.summary`): ``failing`` (the
    gates that fail the run) and ``rest``, each with its counts and its worst cell's row."""
    g = results.get("gates")
    if not isinstance(g, dict):
        return None
    rows = []
    counts: dict[str, int] = {}
    at: dict[int, dict] = {}   # index in gates.verdicts -> its row
    for i, v in enumerate(as_list(g.get("verdicts"))):
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
        at[i] = rows[-1]
    order = ("FAIL", "WARN", "INSUFFICIENT", "PASS")
    for k, c in as_dict(g.get("counts")).items():   # counts as the gates wrote them, when given
        if fmt.is_number(c):
            counts[str(k)] = int(c)
    passed = g.get("passed")
    if passed is None:
        passed = counts.get("FAIL", 0) == 0
    skipped = [{"name": text(x.get("name")), "reason": text(x.get("reason"))}
               for x in as_list(g.get("skipped")) if isinstance(x, dict)]
    failing, rest = _by_gate(g, at)
    strict = bool(g.get("strict", False))
    fails_run = {"FAIL", "WARN"} if strict else {"FAIL"}
    gate_counts = as_dict(g.get("gate_counts"))
    return {
        "rows": rows,
        "counts": [{"verdict": k, "css": k.lower(), "count": counts[k]} for k in order if counts.get(k)]
        + [{"verdict": k, "css": k.lower(), "count": c} for k, c in counts.items() if k not in order and c],
        "passed": bool(passed), "strict": strict,
        "overall": "PASSED" if passed else "FAILED", "skipped": skipped,
        "rule": str(g.get("decision_rule") or ""),
        "failing": failing, "rest": rest,
        "rest_counts": [{"verdict": VERDICT_LABELS.get(k, k), "css": k.lower(), "count": int(gate_counts[k])}
                        for k in order if k not in fails_run and fmt.is_number(gate_counts.get(k))
                        and gate_counts[k]],
    }


#: How a verdict is named where the gates are counted per gate.
VERDICT_LABELS = {"INSUFFICIENT": "NOT JUDGED"}


def _by_gate(g: dict, rows: dict[int, dict]) -> tuple[list[dict], list[dict]]:
    """One row per gate (``gates.by_gate``), split into the gates that fail the run and the rest;
    each with its verdict counts and its worst cell (the verdict row ``worst`` points at)."""
    failing, rest = [], []
    for b in as_list(g.get("by_gate")):
        if not isinstance(b, dict):
            continue
        worst = b.get("worst")
        cell = rows.get(worst) if isinstance(worst, int) else None
        c = as_dict(b.get("counts"))
        verdict = str(b.get("verdict") or "")
        row = {
            "verdict": VERDICT_LABELS.get(verdict, verdict), "css": verdict.lower(), "name": text(b.get("name")),
            "metric": text(b.get("metric")),
            "counts": [{"verdict": VERDICT_LABELS.get(k, k), "css": k.lower(), "count": int(c[k])}
                       for k in ("FAIL", "WARN", "INSUFFICIENT", "PASS") if fmt.is_number(c.get(k)) and c[k]],
            "n": fmt.integer(b.get("n")),
            "worst": cell,
        }
        (failing if b.get("fails") else rest).append(row)
    return failing, rest


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
                              default=status_n(gr, g, as_dict(dig(cells, "groups", g))))) for g in groups]
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
