"""``harness compare`` on two runs: same images or exit 2, which groups got better or worse,
regression gates with exit codes and JUnit, the comparison files and their HTML report."""
from __future__ import annotations

import json
import shutil
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

sys.path.insert(0, str(Path(__file__).parent))

from gates_runs import make_pair  # noqa: E402
from harness import cli  # noqa: E402
from harness.paired.runs import compare_runs, read_comparison  # noqa: E402
from harness.errors import UserError  # noqa: E402


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("compare_runs")
    base, cand = make_pair(root, n_boot=200)
    return root, base, cand


@pytest.fixture(scope="module")
def comparison(runs):
    _, base, cand = runs
    return compare_runs(base, cand, n_boot=200, seed=0)


def test_planted_changes_are_found_per_group(comparison):
    g = comparison["groupings"]["group"]
    changes = {(c["group"], c["metric"]): c["change"] for c in g["changes"]}
    # planted: the candidate fixed dark skin (separation 0.6 -> 3.0) ...
    for metric in ("sensitivity", "balanced_accuracy", "roc_auc"):
        assert changes[("dark", metric)] == "better", metric
    # ... and separates light skin a little less (4.0 -> 3.2) at a lower threshold
    assert changes[("light", "specificity")] == "worse"
    assert g["deltas"]["groups"]["tiny"]["status"] == "insufficient"
    assert ("tiny", "sensitivity") not in changes
    assert g["gaps"]["metrics"]["sensitivity"]["change"] == "better"
    assert g["gaps"]["equalized_odds_difference"]["change"] == "better"
    lines = "\n".join(comparison["summary"])
    import re

    better = re.search(r"better \(group, (\d+) of (\d+) group comparisons; about ([\d.]+) would "
                       r"by chance\): dark", lines)
    assert better and "worse (group, " in lines and "chance): light" in lines
    # judged groups x headline metrics; "tiny" is too small to judge and is not counted
    judged = [c for c, d in g["deltas"]["groups"].items() if d["status"] == "ok"]
    assert int(better.group(2)) == 4 * len(judged)
    assert float(better.group(3)) == pytest.approx(4 * len(judged) / 20, abs=0.05)
    assert "McNemar" in lines


def test_threshold_shifts_and_drift_deltas(comparison):
    g = comparison["groupings"]["group"]
    op = g["thresholds"]["operating"]
    assert (op["baseline"], op["candidate"]) == (0.5, 0.45)
    assert op["shift"] == pytest.approx(-0.05)
    assert g["thresholds"]["groups"]["dark"]["status"] == "ok"
    assert g["thresholds"]["groups"]["tiny"]["status"] == "insufficient"
    drift = comparison["gradcam"]
    assert drift["available"]
    dark = drift["variants"]["blur@2"]["groups"]["dark"]["cosine"]
    # planted drops per severity: baseline 0.12, candidate 0.03 on dark skin
    assert dark["delta"] == pytest.approx(2 * (0.12 - 0.03), abs=0.01)
    assert dark["ci"] is None and dark["baseline_ci"] is not None


def test_label_grouping_is_compared_too(comparison):
    fitz = comparison["groupings"]["fitzpatrick"]
    assert fitz["groups"] == ["1", "2", "3", "4", "5", "6", "unknown"]
    assert fitz["group_label_disagreements"] == 0
    assert fitz["deltas"]["groups"]["5"]["sensitivity"]["change"] == "better"


def test_row_order_does_not_matter(runs, comparison, tmp_path):
    _, base, cand = runs
    shuffled = tmp_path / "candidate"
    shutil.copytree(cand, shuffled)
    df = pd.read_csv(shuffled / "samples.csv")
    df.sample(frac=1.0, random_state=3).to_csv(shuffled / "samples.csv", index=False)
    again = compare_runs(base, shuffled, n_boot=200, seed=0)
    a = again["groupings"]["group"]["deltas"]
    b = comparison["groupings"]["group"]["deltas"]
    assert a == b


def test_different_images_exit_2_naming_both_runs(runs, tmp_path, capsys):
    _, base, cand = runs
    other = tmp_path / "other"
    shutil.copytree(cand, other)
    results = json.loads((other / "results.json").read_text())
    results["dataset"]["fingerprint"] = "f" * 64
    (other / "results.json").write_text(json.dumps(results))
    code = cli.main(["compare", "--baseline", str(base), "--candidate", str(other), "--quiet",
                     "--out", str(tmp_path / "out")])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1
    assert str(base) in err[0] and str(other) in err[0] and "same images" in err[0]
    with pytest.raises(UserError):
        compare_runs(base, other)


def write_gates(path, *gates):
    path.write_text(yaml.safe_dump({"gates": list(gates)}), encoding="utf-8")
    return path


def test_regression_gate_fails_with_exit_1_and_the_number_in_junit(runs, comparison, tmp_path,
                                                                     capsys):
    _, base, cand = runs
    light = comparison["groupings"]["group"]["deltas"]["groups"]["light"]["specificity"]
    regression, (lo, hi) = -light["delta"], (-light["ci"][1], -light["ci"][0])
    assert 0 < lo < regression                  # planted: the candidate is worse on light skin
    out = tmp_path / "cmp"
    gates = write_gates(tmp_path / "g.yaml",
                        {"name": "no group loses specificity", "metric": "specificity",
                         "scope": "each_group", "max_regression": round(lo / 2, 6)},
                        {"name": "candidate closes the sensitivity gap", "metric": "sensitivity",
                         "scope": "group_gap", "max": 0.10})
    code = cli.main(["compare", "--baseline", str(base), "--candidate", str(cand),
                     "--gates", str(gates), "--out", str(out)])
    captured = capsys.readouterr()
    assert code == 1
    assert captured.out.strip() == str(out / "comparison.html")
    root = ET.parse(out / "junit.xml").getroot()
    (f,) = root.findall(".//failure")
    assert f"{regression:.3f}" in f.get("message") and "group light" in f.get("message")
    assert "regression" in f.get("message")
    saved = read_comparison(out)
    rows = saved["gates"]["verdicts"]
    light_row = next(r for r in rows if r["group"] == "light")
    assert light_row["kind"] == "regression" and light_row["verdict"] == "FAIL"
    assert light_row["value"] == pytest.approx(regression) and light_row["ci"] == pytest.approx(
        [lo, hi])
    assert light_row["baseline"] == light["baseline"] and light_row["candidate"] == light[
        "candidate"]
    gap_row = next(r for r in rows if r["kind"] == "absolute")
    assert gap_row["verdict"] == "PASS"       # absolute gates judge the candidate
    assert "FAIL no group loses specificity" in captured.err

    loose = write_gates(tmp_path / "g2.yaml",
                        {"name": "no group loses specificity", "metric": "specificity",
                         "scope": "each_group", "max_regression": round(hi + 0.01, 6)},
                        {"name": "worst group", "metric": "balanced_accuracy",
                         "scope": "worst_group", "max_regression": 0.2},
                        {"name": "eod may not widen", "metric": "equalized_odds_difference",
                         "scope": "group_gap", "max_regression": 0.0},
                        {"name": "flips may not rise", "metric": "flip_rate",
                         "scope": "each_group", "severity": "<=3", "max_regression": 0.0})
    assert cli.main(["compare", "--baseline", str(base), "--candidate", str(cand), "--gates",
                     str(loose), "--out", str(out), "--quiet"]) == 0
    rows = read_comparison(out)["gates"]["verdicts"]
    worst = next(r for r in rows if r["name"] == "worst group")
    assert worst["groups"] == ["light"] and worst["verdict"] == "PASS"
    assert {r["verdict"] for r in rows if r["name"] == "flips may not rise"} == {"PASS",
                                                                                 "INSUFFICIENT"}


def test_comparison_files_are_deterministic_and_the_page_is_self_contained(runs, tmp_path):
    import harness

    _, base, cand = runs
    a = harness.compare(base, cand, seed=0)
    a.save(tmp_path / "a")
    harness.compare(base, cand, seed=0).save(tmp_path / "b")
    assert a.passed is True and a.lines[0].startswith("compare: baseline baseline")
    assert (tmp_path / "a" / "comparison.json").read_bytes() == \
        (tmp_path / "b" / "comparison.json").read_bytes()
    page = (tmp_path / "a" / "comparison.html").read_text(encoding="utf-8")
    assert "http://" not in page and "https://" not in page and "<script" not in page
    assert "Content-Security-Policy" in page
    saved = json.loads((tmp_path / "a" / "comparison.json").read_text())
    dark = saved["groupings"]["group"]["deltas"]["groups"]["dark"]["sensitivity"]
    shown = f"{dark['delta']:+.3f}".replace("-", "−")
    table = page.split('id="groups-group"', 1)[1].split("</table>", 1)[0]
    assert shown in table and "better" in table
    mc = saved["groupings"]["group"]["mcnemar"]["overall"]
    assert f"<td class=\"num\">{mc['candidate_only_correct']}</td>" in page


def test_names_in_the_page_are_escaped(comparison, tmp_path):
    from reports.comparison import render_comparison

    hostile = json.loads(json.dumps(comparison))
    hostile["candidate"]["model"] = "<script>alert(1)</script>"
    hostile["groupings"]["group"]["groups"].append("<b>x</b>")
    page = render_comparison(tmp_path, hostile).read_text(encoding="utf-8")
    assert "<script>alert" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "<b>x</b>" not in page and "&lt;b&gt;x&lt;/b&gt;" in page


def test_compare_needs_both_runs_to_exist(runs, tmp_path, capsys):
    _, base, _ = runs
    code = cli.main(["compare", "--baseline", str(base), "--candidate", str(tmp_path / "nope"),
                     "--quiet", "--out", str(tmp_path / "o")])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and "nope" in err[0]


def test_group_column_that_disagrees_with_results_is_refused(runs, tmp_path):
    _, base, cand = runs
    broken = tmp_path / "broken"
    shutil.copytree(cand, broken)
    df = pd.read_csv(broken / "samples.csv")
    df.loc[np.flatnonzero(df["group"] == "dark")[:5], "group"] = "light"
    df.to_csv(broken / "samples.csv", index=False)
    with pytest.raises(UserError, match="column 'group' does not match results.json"):
        compare_runs(base, broken, n_boot=20)


def test_pipeline_and_compare_name_group_labels_alike():
    from harness.results.io import group_label

    for raw, name in [(None, "unknown"), (float("nan"), "unknown"), ("", "unknown"),
                      (" -1 ", "unknown"), ("NA", "unknown"), ("<NA>", "unknown"),
                      ("None", "unknown"), (3.0, "3"), ("3", "3"), (" IV ", "IV")]:
        assert group_label(raw) == name, raw
