"""summary.md (pull request / $GITHUB_STEP_SUMMARY) and model_card.md carry the report's numbers."""
from __future__ import annotations

import pytest

from reports.markdown import md_escape
from reports.render import render_report
from sample_run import make_sample_run


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    out = tmp_path_factory.mktemp("report_md")
    results = make_sample_run(out, n=160, n_boot=50, severities=(2, 4), families=("blur", "redness"),
                              thumbnails=False, gradcam=False, seed=4)
    render_report(out, strict=True)
    return out, results


def f3(x):
    return f"{x:.3f}".replace("-", "−")


def test_summary_has_verdicts_headline_and_gaps(run):
    out, results = run
    md = (out / "summary.md").read_text(encoding="utf-8")
    gates = results["gates"]
    assert f"**Gates: {'PASSED' if gates['passed'] else 'FAILED'}**" in md
    verdict_rows = [line for line in md.splitlines() if line.startswith(("| PASS", "| WARN", "| FAIL", "| INSUFF"))]
    assert len(verdict_rows) == len(gates["verdicts"])
    overall = results["metrics"]["groupings"]["group"]["variants"]["clean"]["overall"]["metrics"]
    auc = overall["roc_auc"]
    assert f"ROC AUC {f3(auc['value'])} [{f3(auc['ci'][0])}, {f3(auc['ci'][1])}] (n={auc['n']})" in md
    gap = results["metrics"]["groupings"]["group"]["variants"]["clean"]["gaps"]["metrics"]["sensitivity"]
    row = next(line for line in md.splitlines() if line.startswith("| Sensitivity |"))
    assert f"| {f3(gap['difference']['value'])} |" in row
    assert gap["worst_group"].replace("_", "\\_") in row


def test_model_card_lists_each_group_with_n(run):
    out, results = run
    card = (out / "model_card.md").read_text(encoding="utf-8")
    assert card.startswith("# Model card: eczemanet\\_tuned")
    clean = results["metrics"]["groupings"]["group"]["variants"]["clean"]
    for g, cell in clean["groups"].items():
        row = next(line for line in card.splitlines() if line.startswith(f"| {md_escape(g)} | {cell['n']} |"))
        ba = cell["metrics"]["balanced_accuracy"]
        if cell["status"] == "insufficient" and (ba["value"] is None or ba["ci"] is None):
            assert f"| too few to judge (n={cell['n']}) |" in row
        elif cell["status"] == "insufficient":   # the estimate only with its interval and the mark
            assert (f"| {f3(ba['value'])} [{f3(ba['ci'][0])}, {f3(ba['ci'][1])}] n={ba['n']} "
                    f"(too few to judge) |") in row
        else:
            assert f3(cell["metrics"]["balanced_accuracy"]["value"]) in row
    assert "## Robustness" in card and "blur@4" in card


def test_md_escape_neutralises_markup():
    assert md_escape("a|b") == "a\\|b"
    assert md_escape("<img src=x onerror=alert(1)>") == "&lt;img src=x onerror=alert(1)&gt;"
    assert md_escape("[link](http://x)") == "[link\\](http://x)"
    assert md_escape("[a][ref] [0.1, 0.2]") == "[a\\][ref] [0.1, 0.2]"
    assert md_escape("*bold* `code` ~x~ a_b") == "\\*bold\\* \\`code\\` \\~x\\~ a\\_b"
    assert md_escape("line\nbreak") == "line break"
    assert md_escape(None) == ""
