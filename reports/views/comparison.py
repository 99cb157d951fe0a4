"""The comparison section of the run report: the comparison with another run, when the results
carry one (``harness compare``'s ``comparison.json`` beside the run, or a ``comparison`` field)."""
from __future__ import annotations

from typing import Any

from reports import fmt
from reports.comparison import build_comparison_view
from reports.views.common import GROUP_GROUPING, text


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
        view = build_comparison_view(c)
        groupings = view.get("groupings") or []
        g = next((x for x in groupings if x.get("name") == GROUP_GROUPING), groupings[0] if groupings else {})
        return {"kind": "paired", "facts": view.get("facts", []), "summary": view.get("summary", []),
                "grouping": g.get("title", ""), "overall": g.get("overall", []), "changes": g.get("changes", []),
                "gates": view.get("gates"), "tables": [], "ci_level": view.get("ci_level", "")}
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


def _flatten_estimates(d: dict, prefix: str, depth: int = 0) -> list[dict[str, Any]]:
    rows = []
    for k, v in d.items():
        label = f"{prefix} · {k}" if prefix else str(k)
        if isinstance(v, dict) and "value" in v and ("ci" in v or "n" in v):
            rows.append({"label": label, "cell": fmt.estimate(v, signed=True), "extra": ""})
        elif isinstance(v, dict) and depth < 3:
            rows.extend(_flatten_estimates(v, label, depth + 1))
    return rows
