"""``harness.pipeline.findings``: known answers for each pure function, and a real audit whose
findings agree with its thumbnails, its flip rates and its report."""
from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from harness.pipeline.findings import (add_findings, flip_column, flip_flags, label_group_ita,
                                       largest_flip_rate, strip_images)

REPO = Path(__file__).resolve().parents[1]


def rob(value, n=10):
    return {"overall": {"flip_rate": {"value": value, "ci": [0.0, 1.0], "n": n, "ci_method": "wilson",
                                      "reason": None}}}


def test_flip_flags_compare_both_predictions_at_the_threshold():
    results = {"model": {"threshold": 0.5}, "perturbations": {"variants": [{"name": "blur@1"}]},
               "metrics": {"variants": ["clean", "blur@1", "redness@2"]}}
    samples = pd.DataFrame({"p": [0.4, 0.6, 0.5, 0.49, 0.7],
                            "p[blur@1]": [0.6, 0.6, 0.49, np.nan, 0.2],
                            "p[redness@2]": [0.5, 0.1, 0.9, 0.2, 0.71]})
    flags = flip_flags(results, samples)
    assert list(flags.columns) == ["flip[blur@1]", "flip[redness@2]"]
    assert flags["flip[blur@1]"].tolist() == [True, False, True, False, True]   # 0.5 is positive
    assert flags["flip[redness@2]"].tolist() == [True, True, False, False, False]
    assert flip_flags({"model": {}}, samples).columns.empty
    assert flip_column("blur@3") == "flip[blur@3]"


def test_largest_flip_rate_takes_the_headline_grouping_and_the_first_of_a_tie():
    results = {"metrics": {"groupings": {
        "fitzpatrick": {"robustness": {"blur@1": rob(0.9)}},
        "group": {"robustness": {"blur@1": rob(0.1), "blur@3": rob(0.3), "redness@3": rob(0.3),
                                 "odd@1": {"overall": {"flip_rate": {"value": None}}}}}}}}
    found = largest_flip_rate(results)
    assert found["grouping"] == "group" and found["variant"] == "blur@3"
    assert found["flip_rate"] == rob(0.3)["overall"]["flip_rate"]
    only_labels = {"metrics": {"groupings": {"fitzpatrick": {"robustness": {"blur@1": rob(0.9)}}}}}
    assert largest_flip_rate(only_labels)["grouping"] == "fitzpatrick"
    assert largest_flip_rate({"metrics": {"groupings": {"group": {"robustness": {}}}}}) is None


def test_label_group_ita_groups_images_as_the_metrics_named_them():
    results = {"metrics": {"groupings": {"group": {"groups": ["light"]},
                                         "fitzpatrick": {"groups": ["1", "2", "3", "unknown"]}}}}
    samples = pd.DataFrame({"group": ["light"] * 6,
                            "fitzpatrick": [1, 1.0, "2", np.nan, 2, "-1"],
                            "ita": [10.0, 20.0, np.nan, 5.0, 30.0, 7.0]})
    assert label_group_ita(results, samples) == {
        "fitzpatrick": {"1": 15.0, "2": 30.0, "3": None, "unknown": 6.0}}
    assert label_group_ita(results, samples.drop(columns="ita")) == {}


def test_strip_images_are_the_first_image_of_each_group_lightest_and_darkest_first():
    results = {"groups": {"order": ["light", "tan", "dark", "unknown"]}}
    samples = pd.DataFrame({"group": ["light", "dark", "unknown", "light", "tan", "dark", "other"]})
    found = strip_images(results, samples)
    assert found["by_group"] == {"light": 0, "tan": 4, "dark": 1, "unknown": 2, "other": 6}
    assert found["order"] == [0, 1, 4, 2, 6]
    one = strip_images(results, pd.DataFrame({"group": ["tan", "tan", "unknown"]}))
    assert one["order"] == [0, 2]
    assert strip_images(results, pd.DataFrame({"p": [0.1]}))["order"] == []


def test_add_findings_keeps_every_field_and_column_and_adds_only_its_own():
    results = {"model": {"threshold": 0.5}, "groups": {"order": ["a", "b"]},
               "perturbations": {"variants": [{"name": "blur@1"}]},
               "metrics": {"variants": ["clean", "blur@1"],
                           "groupings": {"group": {"robustness": {"blur@1": rob(0.5, n=2)}}}}}
    samples = pd.DataFrame({"file": ["x.jpg", "y.jpg"], "p": [0.2, 0.8], "p[blur@1]": [0.7, 0.9],
                            "group": ["b", "a"], "ita": [1.0, 2.0]})
    before = json.dumps(results)
    res, smp = add_findings(results, samples)
    assert json.dumps(results) == before and list(samples.columns) == ["file", "p", "p[blur@1]", "group", "ita"]
    assert {k: v for k, v in res.items() if k != "findings"} == results
    assert list(res["findings"]) == ["largest_flip_rate", "label_group_ita", "strip_images",
                                    "what_we_found"]
    assert res["findings"]["strip_images"]["order"] == [1, 0]
    assert list(smp.columns) == list(samples.columns) + ["flip[blur@1]"]
    assert smp["flip[blur@1]"].tolist() == [True, False]
    again, smp2 = add_findings(res, smp)   # re-adding replaces, never duplicates
    assert again == res and list(smp2.columns) == list(smp.columns)


@pytest.fixture(scope="module")
def audited(dermnet_test, tmp_path_factory):
    out = tmp_path_factory.mktemp("findings") / "run"
    proc = subprocess.run([sys.executable, "-m", "harness", "run", "--model", "tests/callable_models.py:redness",
                           "--data", str(dermnet_test), "--out", str(out),
                           "--cache", str(out.parent / "cache"), "--perturbations", "redness,blur",
                           "--severities", "1,3", "--n-boot", "50", "--gradcam", "none", "--quiet"],
                          cwd=REPO, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr
    results = json.loads((out / "results.json").read_text(encoding="utf-8"))
    samples = pd.read_csv(out / "samples.csv", keep_default_na=False, na_values=[""])
    return out, results, samples


def test_a_real_audit_writes_findings_that_agree_with_its_thumbnails_and_flip_rates(audited):
    out, results, samples = audited
    found = results["findings"]
    strip = found["strip_images"]
    # the thumbnails the pipeline saved across the ladder are exactly the selected images
    for variant in ("redness@1", "redness@3", "blur@1", "blur@3"):
        saved = sorted(int(p.stem) for p in (out / "thumbs" / variant).glob("*.jpg"))
        assert saved == sorted(strip["by_group"].values())
    assert sorted(strip["order"]) == sorted(strip["by_group"].values())
    for g, i in strip["by_group"].items():
        assert samples["group"].iloc[i] == g and (samples["group"].iloc[:i] != g).all()
    # a flip flag is the metrics' flip: its mean is the written flip rate of all images
    t = results["model"]["threshold"]
    rob = results["metrics"]["groupings"]["group"]["robustness"]
    for variant in ("redness@1", "redness@3", "blur@1", "blur@3"):
        flags = samples[flip_column(variant)]
        assert flags.dtype == bool
        assert flags.tolist() == ((samples[f"p[{variant}]"] >= t) != (samples["p"] >= t)).tolist()
        assert math.isclose(flags.mean(), rob[variant]["overall"]["flip_rate"]["value"])
    best = max(rob, key=lambda v: rob[v]["overall"]["flip_rate"]["value"])
    assert found["largest_flip_rate"]["variant"] == best
    assert found["largest_flip_rate"]["flip_rate"] == rob[best]["overall"]["flip_rate"]
    assert found["label_group_ita"] == {}           # a folder of class subfolders has no labels


def test_the_report_shows_what_the_findings_select(audited, tmp_path):
    import shutil

    from reports.render import render_report

    out, results, _ = audited
    page = (out / "report.html").read_text(encoding="utf-8")
    lf = results["findings"]["largest_flip_rate"]
    assert f"Largest flip rate: {lf['variant']} changes {lf['flip_rate']['value']:.3f}" in page
    # another selection shows other images: the report reads the choice, it does not make it
    run = tmp_path / "run"
    shutil.copytree(out, run)
    order = results["findings"]["strip_images"]["order"]
    changed = json.loads(json.dumps(results))
    changed["findings"]["strip_images"]["order"] = order[::-1]
    changed["findings"]["largest_flip_rate"]["variant"] = "blur@9"
    (run / "results.json").write_text(json.dumps(changed), encoding="utf-8")
    page2 = render_report(run, strict=True).read_text(encoding="utf-8")
    files = pd.read_csv(out / "samples.csv")["file"]
    shown = [files[i] for i in order[::-1][:2]]
    strips = page2.split("One image across the ladder", 1)[1]
    assert strips.index(shown[0]) < strips.index(shown[1])
    assert f"<h4>{files[order[0]]} · group" not in strips or len(order) < 3
    assert "Largest flip rate: blur@9 changes" in page2
