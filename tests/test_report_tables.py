"""The numbers in report.html are the numbers in results.json: read the tables back and compare.

A simulated audit (real ``audit_metrics`` on simulated predictions with a planted bias) is rendered;
an HTML parser reads every table cell; each is checked against results.json formatted to the
precision the report shows.
"""
from __future__ import annotations

import json
from html.parser import HTMLParser

import pytest

from reports.render import render_report
from sample_run import make_sample_run


class Cell:
    def __init__(self):
        self.text = ""
        self.spans: dict[str, str] = {}   # class of an est part ("v", "ci", "n", "mark") -> its text
        self.classes: list[str] = []      # classes of the est wrapper


class TableReader(HTMLParser):
    """Collect ``{table id: [{"attrs": tr attrs, "cells": [Cell]}]}`` from an HTML page."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.tables: dict[str, list[dict]] = {}
        self._table: list | None = None
        self._row: dict | None = None
        self._cell: Cell | None = None
        self._span_stack: list[str | None] = []
        self._depth = 0

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "table":
            self._depth += 1
            if self._depth == 1:
                self._table = self.tables.setdefault(a.get("id") or f"_anon{len(self.tables)}", [])
        elif tag == "tr" and self._table is not None:
            self._row = {"attrs": a, "cells": []}
            self._table.append(self._row)
        elif tag in ("td", "th") and self._row is not None:
            self._cell = Cell()
            self._row["cells"].append(self._cell)
        elif tag == "span" and self._cell is not None:
            cls = (a.get("class") or "").split()
            if "est" in cls:
                self._cell.classes = cls
            part = next((c for c in cls if c in ("v", "ci", "n", "mark")), None)
            self._span_stack.append(part)

    def handle_endtag(self, tag):
        if tag == "table":
            self._depth -= 1
            if self._depth == 0:
                self._table = None
        elif tag in ("td", "th"):
            self._cell = None
        elif tag == "span" and self._span_stack:
            self._span_stack.pop()

    def handle_data(self, data):
        if self._cell is None:
            return
        self._cell.text += data
        for part in self._span_stack:
            if part:
                self._cell.spans[part] = self._cell.spans.get(part, "") + data


def norm(s: str) -> str:
    return " ".join(s.replace("−", "-").split())


def f3(x: float) -> str:
    out = f"{x:.3f}"
    return "0.000" if float(out) == 0 else out


def signed3(x: float) -> str:
    out = f"{x:+.3f}"
    return "0.000" if float(out) == 0 else out


def ci3(ci, signed=False) -> str:
    f = signed3 if signed else f3
    return f"[{f(ci[0])}, {f(ci[1])}]"


def check_estimate(cell: Cell, m: dict, *, signed: bool = False) -> None:
    """The cell shows m's value, interval and n, at three decimals."""
    assert "ok" in cell.classes, (cell.text, m)
    f = signed3 if signed else f3
    assert norm(cell.spans["v"]) == f(m["value"])
    if m.get("ci") is not None:
        assert norm(cell.spans["ci"]) == ci3(m["ci"], signed)
    if m.get("n") is not None:
        assert norm(cell.spans["n"]) == f"n={m['n']}"


def check_too_few(cell: Cell, m: dict, *, signed: bool = False) -> None:
    """A group too small to judge: m's value only with its interval, n and the visible mark."""
    assert "insufficient" in cell.classes, (cell.text, m)
    f = signed3 if signed else f3
    if m.get("value") is None or m.get("ci") is None:   # nothing to show with an interval
        assert norm(cell.text).startswith("too few to judge (n=") and "v" in cell.spans
        return
    assert norm(cell.spans["v"]) == f(m["value"])
    assert norm(cell.spans["ci"]) == ci3(m["ci"], signed)
    assert norm(cell.spans["n"]) == f"n={m['n']}"
    assert norm(cell.spans["mark"]) == "too few to judge"


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    out = tmp_path_factory.mktemp("report_tables")
    results = make_sample_run(out, n=200, n_boot=100, severities=(1, 3, 5), seed=3)
    page = render_report(out, strict=True).read_text(encoding="utf-8")
    reader = TableReader()
    reader.feed(page)
    return results, reader.tables


def rows_by_group(table: list[dict]) -> dict[str, list[Cell]]:
    return {r["attrs"]["data-group"]: r["cells"] for r in table if "data-group" in r["attrs"]}


@pytest.mark.parametrize("grouping", ["group", "fitzpatrick"])
def test_performance_tables_equal_results(run, grouping):
    from reports.views.performance import CALIBRATION, DISCRIMINATION

    results, tables = run
    gr = results["metrics"]["groupings"][grouping]
    clean = gr["variants"]["clean"]
    checked = insufficient = 0
    for kind, metrics, first in (("discrimination", DISCRIMINATION, 3), ("calibration", CALIBRATION, 2)):
        rows = rows_by_group(tables[f"perf-{grouping}-{kind}"])
        assert set(rows) == {"overall", *clean["groups"]}
        for name, cells in rows.items():
            cell = clean["overall"] if name == "overall" else clean["groups"][name]
            assert norm(cells[1].text) == str(cell["n"])
            for (key, _, _), c in zip(metrics, cells[first:]):
                if cell["status"] == "insufficient":
                    check_too_few(c, cell["metrics"][key])
                    insufficient += 1
                elif cell["metrics"][key]["value"] is None:
                    assert "undefined" in c.classes
                else:
                    check_estimate(c, cell["metrics"][key])
                    checked += 1
    assert checked >= 40
    if grouping == "group":
        assert insufficient > 0   # the small "dark" group and "unknown" are not judged


def test_gap_table_equals_results(run):
    results, tables = run
    gaps = results["metrics"]["groupings"]["group"]["variants"]["clean"]["gaps"]
    assert gaps["status"] == "ok"
    seen = 0
    for row in tables["gaps-group"]:
        key = row["attrs"].get("data-metric")
        if not key:
            continue
        g = gaps["metrics"][key]
        cells = row["cells"]
        assert norm(cells[1].text).startswith(f"{g['worst_group']} (n=")
        check_estimate(cells[3], {"value": g["difference"]["value"], "ci": g["difference"]["ci"]})
        check_estimate(cells[5], {"value": g["first_vs_last"]["difference"]["value"],
                                  "ci": g["first_vs_last"]["difference"]["ci"]}, signed=True)
        lo, hi = g["difference"]["ci"]
        assert ("yes" in cells[6].text) == (lo > 0 or hi < 0)
        seen += 1
    assert seen >= 5


def test_flip_rate_table_equals_results(run):
    results, tables = run
    gr = results["metrics"]["groupings"]["group"]
    order = gr["groups"]
    rows = {r["attrs"]["data-variant"]: r["cells"] for r in tables["flip-rates"] if "data-variant" in r["attrs"]}
    assert set(rows) == set(gr["robustness"])
    for variant, cells in rows.items():
        rob = gr["robustness"][variant]
        check_estimate(cells[1], rob["overall"]["flip_rate"])
        for g, c in zip(order, cells[2:]):
            cell = rob["groups"][g]
            if cell["status"] == "insufficient":
                check_too_few(c, cell["flip_rate"])
            else:
                check_estimate(c, cell["flip_rate"])
        counts = rob["overall"]["counts"]
        assert norm(cells[-1].text).startswith(f"{counts['right_to_wrong']} / {counts['wrong_to_right']}")


def test_gate_table_equals_results(run):
    results, tables = run
    verdicts = results["gates"]["verdicts"]
    rows = [r for r in tables["gates-table"] if r["cells"] and r["cells"][0].text.strip() not in ("Verdict",)]
    assert len(rows) == len(verdicts)
    for row, v in zip(rows, verdicts):
        assert norm(row["cells"][0].text) == v["verdict"]
        assert norm(row["cells"][1].text).startswith(v["name"])
        if v["value"] is not None:
            check_estimate(row["cells"][4], {"value": v["value"], "ci": v["ci"], "n": v.get("n")})
        for kind, sign in (("min", "≥"), ("max", "≤")):
            if kind in v["bound"]:
                assert f"{sign} {f3(v['bound'][kind])}" in norm(row["cells"][5].text)


def test_threshold_table_equals_results(run):
    results, tables = run
    th = results["metrics"]["groupings"]["group"]["thresholds"]
    rows = {norm(r["cells"][0].text): r["cells"] for r in tables["thresholds-group"][1:]}
    for name, cells in rows.items():
        tc = th["overall"] if name == "overall" else th["groups"][name]
        assert norm(cells[1].text) == str(tc["n"])
        if tc["status"] != "ok":
            assert norm(cells[2].text) == f"too few to judge (n={tc['n']})"
            continue
        op, best, tgt = tc["operating"], tc["best_macro_f1"], tc["for_target_sensitivity"]
        expected = [op["tpr"], op["fpr"], op["precision"], op["macro_f1"], best["threshold"], best["macro_f1"],
                    tgt["threshold"], tgt["tpr"], tgt["fpr"]]
        assert [norm(c.text) for c in cells[2:]] == [f3(x) for x in expected]


def test_dataset_tables_equal_results(run):
    results, tables = run
    counts = {norm(r["cells"][0].text): norm(r["cells"][1].text) for r in tables["class-counts"][1:]}
    assert counts == {k: str(v) for k, v in results["dataset"]["class_counts"].items()}
    tone = {norm(r["cells"][0].text): r["cells"] for r in tables["tone-groups"][1:]}
    assert list(tone) == results["groups"]["order"]
    for g, cells in tone.items():
        assert norm(cells[3].text) == str(results["groups"]["counts"][g])   # after swatch and band
        med = results["groups"]["ita"]["per_group"].get(g, {}).get("ita_median")
        if med is not None:
            assert norm(cells[5].text) == f"{med:.1f}°"
    skipped = [norm(r["cells"][0].text) for r in tables["skipped-files"][1:]]
    assert skipped == [s["file"] for s in results["dataset"]["skipped"]]


def test_every_estimate_carries_its_n(run):
    """A number with no n is a bug: every estimate cell outside the gap tables shows n=..."""
    _, tables = run
    missing = []
    for tid, rows in tables.items():
        if tid.startswith(("gaps-", "headline-gaps")):
            continue   # a gap's two groups carry their n in the group columns
        for r in rows:
            for c in r["cells"]:
                if "ok" in c.classes and "n" not in c.spans:
                    missing.append((tid, norm(c.text)))
    assert not missing, missing[:10]


def test_results_json_is_what_was_rendered(run, tmp_path):
    """Rendering twice from the same results gives identical bytes (deterministic plots)."""
    results, _ = run
    a = tmp_path / "a"
    b = tmp_path / "b"
    for d in (a, b):
        d.mkdir()
        (d / "results.json").write_text(json.dumps(results), encoding="utf-8")
    assert render_report(a).read_bytes() == render_report(b).read_bytes()
