"""A comparison of two audits as one object: what ``comparison.json`` holds, its gates, and cheap
accessors over it (``harness.compare(a, b)`` returns one; ``harness compare`` saves one).

The comparison itself is :func:`harness.paired.runs.compare`; this module adds the gates
(absolute gates judged on the candidate run, regression gates on the comparison) and the files:
``comparison.json``, ``comparison.html`` and, with gates, ``junit.xml``.
"""
from __future__ import annotations

import html
import math
from pathlib import Path
from typing import Any

import pandas as pd

from harness.paired.runs import COMPARISON_FILE, Run, compare
from harness.errors import UserError
from harness.gates.evaluate import (Gate, evaluate_gates, evaluate_regression_gates,
                                    format_verdicts, gates_section, write_junit)
from harness.gates.given import gate_list
from harness.results.io import write_results

#: Columns of :meth:`Comparison.deltas`, after ``status``.
DELTA_COLUMNS = ("baseline", "baseline_ci_low", "baseline_ci_high", "candidate",
                 "candidate_ci_low", "candidate_ci_high", "delta", "delta_ci_low",
                 "delta_ci_high", "n", "change", "reason")


def judged_comparison(base: Run, cand: Run, *, n_boot: int | None, seed: int,
                      gates: list[Gate] | None, strict: bool) -> "Comparison":
    """Compare two runs of the same images and judge ``gates`` (None: no gates).

    ``n_boot`` None takes the baseline run's own number of resamples.
    """
    if n_boot is None:
        n_boot = int((base.metrics.get("settings") or {}).get("n_boot") or 1000)
    comparison = compare(base, cand, n_boot=n_boot, seed=seed)
    if gates is not None:
        comparison["gates"] = judge(comparison, cand.results, gates, strict=strict)
    return Comparison(results=comparison, candidate_results=cand.results)


def judge(comparison: dict, candidate_results: dict, gates: list[Gate], *,
          strict: bool) -> dict:
    """The gates section of a comparison: absolute gates on the candidate's results, regression
    gates (``max_regression``) on the comparison."""
    absolute = evaluate_gates(candidate_results, gates, strict=strict)["verdicts"]
    return gates_section(absolute + evaluate_regression_gates(comparison, gates), strict=strict)


class Comparison:
    """Baseline against candidate on the same images (schema ``dermatrace.comparison/1``,
    docs/comparison.md).

    Attributes
    ----------
    results : dict
        Exactly what ``comparison.json`` holds (with ``gates`` when gates were judged).
    """

    def __init__(self, *, results: dict, candidate_results: dict):
        self.results = results
        self._candidate = candidate_results

    def __repr__(self) -> str:
        b, c = self.results["baseline"], self.results["candidate"]
        return (f"Comparison(baseline={b.get('model')!r}, candidate={c.get('model')!r}, "
                f"n_images={self.results['dataset']['n_images']})")

    @property
    def passed(self) -> bool:
        """False when a gate failed (True without gates)."""
        return bool((self.results.get("gates") or {}).get("passed", True))

    @property
    def warnings(self) -> list[str]:
        """The summary's ``warning:`` lines (e.g. a run compared with itself)."""
        return [line for line in self.results.get("summary") or [] if line.startswith("warning: ")]

    @property
    def lines(self) -> list[str]:
        """The one-line findings ``harness compare`` prints, then one line per gate verdict."""
        lines = list(self.results.get("summary") or [])
        if self.results.get("gates"):
            lines.extend(format_verdicts(self.results["gates"]).splitlines())
        return lines

    def deltas(self, grouping: str = "group", metric: str = "balanced_accuracy") -> pd.DataFrame:
        """Paired ``candidate − baseline`` of one metric on the clean images, per cell.

        Returns
        -------
        DataFrame indexed by ``overall`` then every group of ``grouping``, with ``status``
        (``ok`` / ``insufficient``) and :data:`DELTA_COLUMNS`: each model's value and interval,
        the delta and its paired interval, ``n``, ``change`` (``better``, ``worse``, ``no clear
        change``) and ``reason`` (why a value is undefined; NaN values stand for those).
        """
        groupings = self.results.get("groupings") or {}
        if grouping not in groupings:
            raise UserError(f"grouping={grouping!r}: not a grouping of this comparison; use one "
                            f"of {', '.join(map(repr, groupings)) or 'none'}")
        cells = groupings[grouping]["deltas"]
        rows = {"overall": cells["overall"], **cells.get("groups", {})}
        known = sorted({m for c in rows.values() if c.get("status") == "ok" for m in c
                        if isinstance(c[m], dict)})
        if known and metric not in known:
            raise UserError(f"metric={metric!r}: not a metric of this comparison; use one of "
                            f"{', '.join(known)}")
        table = {}
        for name, cell in rows.items():
            e = cell.get(metric) if cell.get("status") == "ok" else None
            row: dict[str, Any] = {"status": cell.get("status")}
            if e is None:
                row.update({k: math.nan for k in DELTA_COLUMNS})
                row.update({"change": None, "reason": cell.get("reason")})
            else:
                row.update({"baseline": _num(e.get("baseline")), "candidate": _num(e.get("candidate")),
                            "delta": _num(e.get("delta")), "n": _num(e.get("n")),
                            "change": e.get("change"), "reason": e.get("reason")})
                for key, ci in (("baseline", e.get("baseline_ci")),
                                ("candidate", e.get("candidate_ci")), ("delta", e.get("ci"))):
                    row[f"{key}_ci_low"], row[f"{key}_ci_high"] = _bounds(ci)
            table[name] = row
        frame = pd.DataFrame.from_dict(table, orient="index", columns=["status", *DELTA_COLUMNS])
        frame.index.name = grouping
        return frame

    def gates(self, gates: Any, *, strict: bool = False) -> dict:
        """Judge ``gates`` (a gate file, or a list of gates as the file's ``gates:`` list holds
        them) on this comparison, as ``harness compare --gates`` does; returns the gates
        section. Does not change :attr:`results`."""
        return judge(self.results, self._candidate, gate_list(gates), strict=strict)

    def save(self, out_dir: str | Path) -> Path:
        """Write ``comparison.json``, ``comparison.html`` and (with gates) ``junit.xml`` into
        ``out_dir`` (created); returns the folder."""
        from reports.comparison import render_comparison  # Jinja2, only when writing the page

        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        if self.results.get("gates"):
            write_junit(self.results["gates"], out / "junit.xml")
        write_results(out / COMPARISON_FILE, self.results)
        render_comparison(out, self.results)
        return out

    def _repr_html_(self) -> str:
        b, c, ds = self.results["baseline"], self.results["candidate"], self.results["dataset"]
        esc = html.escape
        rows = [f"<tr><th>baseline</th><td>{esc(str(b.get('model')))}</td></tr>",
                f"<tr><th>candidate</th><td>{esc(str(c.get('model')))}</td></tr>",
                f"<tr><th>images</th><td>{esc(str(ds.get('n_images')))}</td></tr>"]
        grouping = "group" if "group" in (self.results.get("groupings") or {}) else None
        parts = ["<div class=\"dermatrace-comparison\"><table>", *rows, "</table>"]
        if grouping is not None:
            frame = self.deltas(grouping, "balanced_accuracy")
            parts.append("<table><tr><th>balanced accuracy</th><th>baseline</th>"
                         "<th>candidate</th><th>delta [95% CI]</th><th>change</th></tr>")
            for name, r in frame.iterrows():
                if r["status"] != "ok":
                    parts.append(f"<tr><td>{esc(str(name))}</td><td colspan=\"4\">"
                                 f"{esc(str(r['reason'] or 'insufficient'))}</td></tr>")
                    continue
                parts.append(
                    f"<tr><td>{esc(str(name))}</td><td>{_fmt(r['baseline'])}</td>"
                    f"<td>{_fmt(r['candidate'])}</td><td>{_fmt(r['delta'], signed=True)} "
                    f"[{_fmt(r['delta_ci_low'], signed=True)}, {_fmt(r['delta_ci_high'], signed=True)}]"
                    f"</td><td>{esc(str(r['change']))}</td></tr>")
            parts.append("</table>")
        g = self.results.get("gates")
        if g:
            counts = ", ".join(f"{esc(str(k))} {esc(str(v))}" for k, v in g.get("counts", {}).items())
            parts.append(f"<p>gates {'passed' if g.get('passed') else 'FAILED'}: {counts}</p>")
        parts.append("</div>")
        return "".join(parts)


def _num(x: Any) -> float:
    return float(x) if isinstance(x, (int, float)) and not isinstance(x, bool) else math.nan


def _bounds(ci: Any) -> tuple[float, float]:
    if isinstance(ci, (list, tuple)) and len(ci) == 2:
        return _num(ci[0]), _num(ci[1])
    return math.nan, math.nan


def _fmt(x: Any, *, signed: bool = False) -> str:
    if not isinstance(x, (int, float)) or math.isnan(x):
        return "undefined"
    return f"{x:+.3f}" if signed else f"{x:.3f}"
