"""model_card.md and summary.md keep their line structure: one list item per line, every heading
and table set off by blank lines, every table row a whole row (Jinja's trim_blocks removes the
newline after a block tag; the templates must keep the ones markdown needs)."""
from __future__ import annotations

import re

import pytest

from reports.markdown import md_escape
from reports.render import render_report
from sample_run import make_sample_run


@pytest.fixture(scope="module")
def rendered(tmp_path_factory):
    out = tmp_path_factory.mktemp("markdown_lines")
    results = make_sample_run(out, n=160, n_boot=50, severities=(1, 3), seed=5)
    render_report(out)
    return results, {name: (out / name).read_text(encoding="utf-8") for name in ("model_card.md", "summary.md")}


def blocks_are_set_off(text: str) -> None:
    """Headings and tables have a blank line (or the start) before them and after them."""
    lines = text.split("\n")
    for i, line in enumerate(lines):
        if line.startswith("#"):
            assert i == 0 or lines[i - 1] == "", (i, lines[i - 1], line)
            assert lines[i + 1] == "", (line, lines[i + 1])
        if line.startswith("|"):
            assert line.endswith("|"), line
            first = i == 0 or not lines[i - 1].startswith("|")
            last = not lines[i + 1].startswith("|")
            if first:
                assert i == 0 or lines[i - 1] == "", (lines[i - 1], line)
                assert re.fullmatch(r"\|(-+\|)+", lines[i + 1]), lines[i + 1]   # the separator row
            if last:
                assert lines[i + 1] == "", (line, lines[i + 1])
    assert "\n\n\n" not in text.rstrip("\n") + "\n"


def test_model_card_robustness_is_one_item_per_line_and_limitations_stand_apart(rendered):
    results, md = rendered
    card = md["model_card.md"]
    lines = card.split("\n")
    start, end = lines.index("## Robustness"), lines.index("## Limitations")
    variants = list(results["metrics"]["groupings"]["group"]["robustness"])
    assert len(variants) == 6
    items = [line for line in lines[start:end] if line.startswith("- ")]
    assert [item.split(":")[0] for item in items] == [f"- {md_escape(v)}" for v in variants]
    for v, item in zip(variants, items):
        fr = results["metrics"]["groupings"]["group"]["robustness"][v]["overall"]["flip_rate"]
        assert item.endswith(f" n={fr['n']}"), item
    assert lines[end - 1] == "" and lines[end + 1] == ""
    assert not re.search(r"n=\d+- ", card) and not re.search(r"[^\s#]#+ ", card)
    blocks_are_set_off(card)


def test_every_list_of_the_model_card_is_one_item_per_line(rendered):
    results, md = rendered
    lines = md["model_card.md"].split("\n")
    details = lines[lines.index("## Model details") + 2:lines.index("## Evaluation data") - 1]
    assert details and all(line.startswith("- ") and line.count(": ") >= 1 for line in details)
    data = lines[lines.index("## Evaluation data") + 2:lines.index("## Performance by skin-tone group (clean images)") - 1]
    assert data[-1].startswith("- Skin-tone groups (") and all(line.startswith("- ") for line in data)
    gaps = lines[lines.index("## Fairness gaps") + 2:lines.index("## Robustness") - 1]
    assert all(line.startswith("- ") for line in gaps) or gaps == ["Not measured, or too few groups with enough images."]
    perf = lines[lines.index("## Performance by skin-tone group (clean images)"):lines.index("## Fairness gaps")]
    groupings = results["metrics"]["groupings"]
    rows = [line for line in perf if line.startswith("| ") and not line.startswith("| Group |")]
    assert len(rows) == sum(1 + len(g["groups"]) for g in groupings.values())


def test_summary_gates_headline_and_findings_keep_their_lines(rendered):
    results, md = rendered
    summary = md["summary.md"]
    lines = summary.split("\n")
    gates_line = next(i for i, line in enumerate(lines) if line.startswith("**Gates: "))
    assert lines[gates_line + 1] == "" and lines[gates_line + 2].startswith("| Verdict |")
    rows = [line for line in lines if line.startswith("| ") and line.split(" | ")[0][2:] in
            ("PASS", "WARN", "FAIL", "INSUFFICIENT")]
    assert len(rows) == len(results["gates"]["verdicts"])
    headline = next(i for i, line in enumerate(lines) if line.startswith("**Clean images, all groups:**"))
    assert lines[headline + 1] == ""
    findings = [i for i, line in enumerate(lines) if line.startswith("- ")]
    assert len(findings) >= 2 and findings == list(range(findings[0], findings[-1] + 1))
    assert lines[findings[0] - 1] == "" and lines[findings[-1] + 1] == ""
    blocks_are_set_off(summary)
