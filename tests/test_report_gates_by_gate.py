"""The gate table grouped by gate: one row per gate (``gates.by_gate``, computed by
``harness.gates.summary``), the gates that fail the run first, the rest and every single verdict
folded in ``<details>``; and a run written before these fields (and ``findings.what_we_found``)
existed still renders, with both recomputed from its results.json alone."""
from __future__ import annotations

import html
import json
import re
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from gates_runs import BASELINE, BASELINE_DRIFT, drift_section, population, predictions, write_run  # noqa: E402
from harness import cli  # noqa: E402
from harness.gates.evaluate import evaluate_gates, gates_section, load_gates  # noqa: E402
from harness.gates.summary import by_gate, with_gate_summary  # noqa: E402
from reports.render import build_context, render_html  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
NEW_GATE_KEYS = ("by_gate", "gate_counts", "gates_failing")


def row(name, verdict, value, *, scope="each_group", group=None, bound=None):
    return {"name": name, "kind": "absolute", "metric": "flip_rate", "scope": scope,
            "group": group, "groups": None, "grouping": "group", "perturbation": "blur",
            "severity": 3, "variant": "blur@3", "value": value,
            "ci": None if value is None else [value - 0.02, value + 0.02], "ci_method": "wilson",
            "n": None if value is None else 40, "bound": bound or {"max": 0.10}, "warn_bound": {},
            "verdict": verdict, "message": f"{verdict} {name}", "reason": None}


ROWS = [
    row("pass only", "PASS", 0.02, group="light"),            # 0
    row("fails twice", "PASS", 0.05, group="light"),          # 1
    row("warns", "WARN", 0.11, group="light"),                # 2
    row("fails twice", "FAIL", 0.30, group="mid"),            # 3
    row("fails twice", "FAIL", 0.50, group="dark"),           # 4: the worst cell of its gate
    row("fails twice", "INSUFFICIENT", None, group="tiny"),   # 5
    row("never judged", "INSUFFICIENT", None, group="tiny"),  # 6
    row("pass only", "PASS", 0.08, group="dark"),             # 7: nearest its bound
    row("warns", "PASS", 0.04, group="dark"),                 # 8
]


def test_one_entry_per_gate_failing_first_with_counts_and_the_worst_cell():
    gates = by_gate(ROWS)
    assert [g["name"] for g in gates] == ["fails twice", "warns", "never judged", "pass only"]
    assert [g["verdict"] for g in gates] == ["FAIL", "WARN", "INSUFFICIENT", "PASS"]
    assert [g["fails"] for g in gates] == [True, False, False, False]
    assert gates[0]["counts"] == {"PASS": 1, "WARN": 0, "FAIL": 2, "INSUFFICIENT": 1}
    assert [g["n"] for g in gates] == [4, 2, 1, 2]
    assert [g["worst"] for g in gates] == [4, 2, 6, 7]
    # strict: a WARN fails the run too, so "warns" is listed among the failing gates
    strict = by_gate(ROWS, strict=True)
    assert [(g["name"], g["fails"]) for g in strict][:2] == [("fails twice", True), ("warns", True)]
    section = gates_section(ROWS, strict=False)
    assert section["gate_counts"] == {"PASS": 1, "WARN": 1, "FAIL": 1, "INSUFFICIENT": 1}
    assert section["gates_failing"] == 1 and section["counts"]["FAIL"] == 2
    assert list(section)[-3:] == list(NEW_GATE_KEYS)   # added after every existing key


def _between(page: str, start: str, end: str) -> str:
    i = page.index(start)
    return page[i:page.index(end, i)]


def test_the_grouped_table_shows_failing_gates_and_folds_the_rest():
    results = {"gates": gates_section(ROWS, strict=False)}
    page = render_html(build_context(results), strict=True)
    failing = _between(page, 'id="gates-by-gate"', "</table>")
    assert failing.count("<tr data-gate-verdict") == 1 and "fails twice" in failing
    cells = re.sub(r"<[^>]+>", " ", failing)
    assert re.search(r"2 FAIL\s+1 NOT JUDGED\s+1 PASS\s+of 4", cells)
    assert "0.500" in cells and "[0.480, 0.520]" in cells and "n=40" in cells   # the worst cell
    rest = _between(page, '<details id="gates-rest">', "</details>")
    assert "The other 3 gates" in rest
    assert [re.search(r"<td>([^<]+)</td>", r).group(1)
            for r in rest.split("<tr data-gate-verdict")[1:]] == ["warns", "never judged", "pass only"]
    every = _between(page, '<details id="gates-all">', "</details>")
    assert 'id="gates-table"' in every and every.count("<tr>") == len(ROWS) + 1   # + the head
    # the failing table comes before both folds, and "What we found" before all of them
    assert (page.index('id="what-we-found"') < page.index('id="gates-by-gate"')
            < page.index('id="gates-rest"') < page.index('id="gates-all"'))


@pytest.fixture(scope="module")
def old_run(tmp_path_factory):
    """A run directory as written before ``by_gate`` and ``findings`` existed: ci-default gates
    judged on the planted biased baseline (some FAIL), the new keys removed."""
    files, labels, y, groups, fitz, noise = population(0)
    p = predictions(y, groups, noise, **BASELINE)
    cam = drift_section(groups, noise, p, 0.5, drift_drop=BASELINE_DRIFT, n_boot=50)
    out = write_run(tmp_path_factory.mktemp("old_run") / "run", files=files, labels=labels, y=y,
                    groups=groups, p=p, threshold=0.5, name="baseline", fitzpatrick=fitz,
                    gradcam=cam, n_boot=50)
    results = json.loads((out / "results.json").read_text(encoding="utf-8"))
    section = evaluate_gates(results, load_gates(REPO / "configs/gates/ci-default.yaml"))
    results["gates"] = {k: v for k, v in section.items() if k not in NEW_GATE_KEYS}
    (out / "results.json").write_text(json.dumps(results), encoding="utf-8")
    return out, section


def test_an_older_results_json_still_renders_with_both_recomputed(old_run, capsys):
    out, section = old_run
    before = (out / "results.json").read_bytes()
    assert cli.main(["report", str(out), "--quiet"]) == 0
    assert (out / "results.json").read_bytes() == before   # re-rendering never rewrites results
    page = (out / "report.html").read_text(encoding="utf-8")
    assert section["gates_failing"] > 0
    failing = _between(page, 'id="gates-by-gate"', "</table>")
    names = [g["name"] for g in section["by_gate"] if g["fails"]]
    assert failing.count("<tr data-gate-verdict") == len(names)
    assert all(html.escape(n) in failing for n in names)
    found = _between(page, 'id="what-we-found"', "</div>")
    assert f"{section['gates_failing']} of {len(section['by_gate'])} gates" in found
    assert 'data-finding="gap"' in found and 'data-finding="perturbation"' in found
    # recomputed exactly as the pipeline writes it: the same page as from a results.json with them
    results = json.loads(before)
    results["gates"] = with_gate_summary(results["gates"])
    assert results["gates"] == json.loads(json.dumps(section))
    from harness.pipeline.findings import add_findings
    from harness.results.io import read_samples

    results, _ = add_findings(results, read_samples(out))
    new = out.parent / "new"
    new.mkdir()
    (new / "results.json").write_text(json.dumps(results), encoding="utf-8")
    (new / "samples.csv").write_bytes((out / "samples.csv").read_bytes())
    assert cli.main(["report", str(new), "--quiet"]) == 0
    assert (new / "report.html").read_text(encoding="utf-8") == page
