"""The report of a K-class audit: K×K confusion matrices per group and a per-class table, every
number from results.json."""
from __future__ import annotations

import json
import re

from reports.views.performance import performance


def _text(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


def test_the_report_shows_k_by_k_matrices_per_group_and_a_per_class_table(kclass_runs):
    run = kclass_runs["sharp"]
    names = kclass_runs["class_names"]
    results = json.loads((run / "results.json").read_text())
    clean = results["metrics"]["groupings"]["fitzpatrick"]["variants"]["clean"]
    view = next(g for g in performance(results)["groupings"] if g["name"] == "fitzpatrick")
    cells = [("overall", clean["overall"])] + list(clean["groups"].items())
    assert [m["group"] for m in view["matrices"]] == [g for g, _ in cells]
    for matrix, (g, cell) in zip(view["matrices"], cells):
        assert matrix["columns"] == names
        assert [[x["n"] for x in r["cells"]] for r in matrix["rows"]] == \
            [[str(v) for v in row] for row in cell["confusion_matrix"]]
    rows = {(r["group"], r["class"]): r for r in view["class_rows"]}
    assert len(rows) == len(cells) * len(names)
    for g, cell in cells:
        for c in names:
            recall = cell["classes"][c]["recall"]
            assert rows[(g, c)]["estimates"][0]["value"] == f"{recall['value']:.3f}"
    html = (run / "report.html").read_text()
    table = html[html.index('id="perf-fitzpatrick-classes"'):]
    table = _text(table[:table.index("</table>")])
    assert "One-vs-rest AUC" in table and "non-neoplastic" in table
    assert html.count('class="matrix cm') == sum(len(v["groups"]) + 1 for v in (
        results["metrics"]["groupings"][k]["variants"]["clean"]
        for k in results["metrics"]["groupings"]))
