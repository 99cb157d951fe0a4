"""Gate verdicts per gate: what a reviewer reads first, one row per gate instead of one per cell.

A gate file's gate is judged once per variant × scope element (``harness.gates.evaluate``), so a
dozen gates become a hundred verdicts. :func:`by_gate` folds them back into one entry per gate:
its verdict counts, the gate's own verdict and its worst cell, ordered so that the gates that fail
the run come first. Pure functions of the verdict rows (plain dicts); no numpy, no pandas.
"""
from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

from harness.gates.file import VERDICTS

#: Order in which gates are listed: failing first, then warnings, not judged, passes.
GATE_ORDER: tuple[str, ...] = ("FAIL", "WARN", "INSUFFICIENT", "PASS")
#: Which cell of a gate is its worst: a breach first, then a warning, then the judged cell
#: nearest its bound; a cell that could not be judged only when no cell was judged.
_CELL_RANK = {"FAIL": 0, "WARN": 1, "PASS": 2, "INSUFFICIENT": 3}


def _is_num(x) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)


def margin(row: Mapping) -> float | None:
    """How far a verdict row's value lies beyond its bound (positive: beyond, negative: within).

    The hard bound (``bound``) when the row has one, else the soft one (``warn_bound``); the larger
    of the two sides when both ``min`` and ``max`` are given. None when the value is undefined or
    there is no bound.
    """
    value = row.get("value")
    if not _is_num(value):
        return None
    for bound in (row.get("bound"), row.get("warn_bound")):
        if not isinstance(bound, Mapping):
            continue
        sides = []
        if _is_num(bound.get("max")):
            sides.append(float(value) - float(bound["max"]))
        if _is_num(bound.get("min")):
            sides.append(float(bound["min"]) - float(value))
        if sides:
            return max(sides)
    return None


def _gate_key(row: Mapping) -> tuple:
    return (row.get("kind", "absolute"), row.get("name"), row.get("metric"), row.get("scope"),
            row.get("grouping"))


def _worst_index(rows: Sequence[tuple[int, Mapping]]) -> int:
    """Index (into the verdicts) of the worst of one gate's rows; the first one wins a tie."""
    def key(item: tuple[int, Mapping]) -> tuple:
        i, r = item
        m = margin(r)
        return (_CELL_RANK.get(str(r.get("verdict")), 4), -(m if m is not None else -math.inf), i)

    return min(rows, key=key)[0]


def gate_verdict(counts: Mapping[str, int]) -> str:
    """One gate's verdict from its cells' counts: FAIL if any cell fails, else WARN if any warns,
    else PASS if any cell was judged, else INSUFFICIENT (no cell could be judged)."""
    for verdict in ("FAIL", "WARN", "PASS"):
        if counts.get(verdict, 0):
            return verdict
    return "INSUFFICIENT"


def by_gate(rows: Sequence[Mapping], *, strict: bool = False) -> list[dict]:
    """One entry per gate of a ``gates`` section's verdict rows.

    Parameters
    ----------
    rows : the section's ``verdicts`` (as :func:`harness.gates.evaluate.evaluate_gates` writes
        them); a gate's rows are those with the same kind, name, metric, scope and grouping.
    strict : the section's ``strict``: a WARN fails the run too.

    Returns
    -------
    ``[{"name", "kind", "metric", "scope", "grouping", "verdict", "fails", "counts", "n",
    "worst"}]``: ``counts`` per verdict (every verdict named, zeros included), ``n`` the gate's
    rows, ``verdict`` from :func:`gate_verdict`, ``fails`` whether it fails the run (FAIL; WARN
    too under ``strict``), ``worst`` the index in ``rows`` of its worst cell (the FAIL furthest
    beyond its bound, else the WARN furthest beyond, else the judged cell nearest its bound, else
    its first row). Ordered: gates that fail the run first, then by verdict (FAIL, WARN,
    INSUFFICIENT, PASS), then as the gate file lists them.
    """
    groups: dict[tuple, list[tuple[int, Mapping]]] = {}
    for i, r in enumerate(rows):
        if isinstance(r, Mapping):
            groups.setdefault(_gate_key(r), []).append((i, r))
    failing = {"FAIL", "WARN"} if strict else {"FAIL"}
    out = []
    for members in groups.values():
        first = members[0][1]
        counts = {k: 0 for k in VERDICTS}
        for _, r in members:
            counts[str(r.get("verdict"))] = counts.get(str(r.get("verdict")), 0) + 1
        verdict = gate_verdict(counts)
        out.append({"name": first.get("name"), "kind": first.get("kind", "absolute"),
                    "metric": first.get("metric"), "scope": first.get("scope"),
                    "grouping": first.get("grouping"), "verdict": verdict,
                    "fails": any(counts.get(v, 0) for v in failing), "counts": counts,
                    "n": len(members), "worst": _worst_index(members)})
    rank = {v: i for i, v in enumerate(GATE_ORDER)}
    order = sorted(range(len(out)), key=lambda i: (not out[i]["fails"], rank[out[i]["verdict"]], i))
    return [out[i] for i in order]


def gate_counts(gates: Sequence[Mapping]) -> dict[str, int]:
    """Gates per gate verdict of :func:`by_gate`'s entries:
    ``{"PASS": 2, "WARN": 1, "FAIL": 1, "INSUFFICIENT": 0}``."""
    counts = {k: 0 for k in VERDICTS}
    for g in gates:
        counts[str(g.get("verdict"))] = counts.get(str(g.get("verdict")), 0) + 1
    return counts


def with_gate_summary(section: Mapping) -> dict:
    """A ``gates`` section with ``by_gate`` (:func:`by_gate`), ``gate_counts``
    (:func:`gate_counts`) and ``gates_failing`` (how many gates fail the run), recomputed from its
    ``verdicts`` and ``strict``; every other field is kept as it was. Used by
    :func:`harness.gates.evaluate.gates_section`, and for a section written before these fields
    existed."""
    out = dict(section)
    out["by_gate"] = by_gate(list(out.get("verdicts") or []), strict=bool(out.get("strict")))
    out["gate_counts"] = gate_counts(out["by_gate"])
    out["gates_failing"] = sum(bool(g["fails"]) for g in out["by_gate"])
    return out
