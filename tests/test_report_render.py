"""render_report: each section appears exactly when its data exists, unknown fields never break it,
missing pictures or samples degrade gracefully, and the output is stable."""
from __future__ import annotations

import copy
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from reports import render_report, report_size
from reports.render import build_view
from sample_run import make_sample_run

REPO = Path(__file__).resolve().parents[1]


def section_ids(page: str) -> list[str]:
    return re.findall(r'<section class="block" id="([a-z]+)"', page)


@pytest.fixture(scope="module")
def sample(tmp_path_factory):
    out = tmp_path_factory.mktemp("report_render")
    results = make_sample_run(out, n=160, n_boot=50, severities=(1, 3), seed=5)
    return out, results


def write(run: Path, results: dict) -> Path:
    run.mkdir(parents=True, exist_ok=True)
    (run / "results.json").write_text(json.dumps(results), encoding="utf-8")
    return run


def test_full_run_renders_every_section_and_its_companions(sample):
    run, results = sample
    path = render_report(run, strict=True)
    page = path.read_text(encoding="utf-8")
    assert section_ids(page) == ["summary", "dataset", "performance", "thresholds", "robustness",
                                 "gradcam", "misclassified", "methods"]
    assert (run / "summary.md").is_file() and (run / "model_card.md").is_file()
    assert re.fullmatch(r"report\.html \(\d+\.\d (KB|MB)\)", report_size(path))
    # the strip, the Grad-CAM overlays and the galleries embed the thumbnails the pipeline saved
    assert page.count("data:image/jpeg;base64,") >= 40
    assert "class=\"strip\"" in page and "class=\"gcard\"" in page


def test_minimal_results_render_only_what_exists(tmp_path):
    results = {"schema_version": "1.0", "tool": {"name": "dermatrace", "version": "0.1.0"},
               "model": {"name": "m", "positive_class": "eczema", "threshold": 0.5},
               "dataset": {"n_images": 3, "class_counts": {"eczema": 2, "atopic_dermatitis": 1},
                           "skipped": [], "n_skipped": 0}}
    page = render_report(write(tmp_path / "run", results), strict=True).read_text(encoding="utf-8")
    assert section_ids(page) == ["summary", "dataset", "methods"]
    assert "None: every file was usable." in page


def test_gradcam_unavailable_says_why(sample, tmp_path):
    _, results = sample
    r = copy.deepcopy(results)
    r["gradcam"] = {"available": False, "reason": "not available for tflite models (no gradients)"}
    page = render_report(write(tmp_path / "run", r), strict=True).read_text(encoding="utf-8")
    assert "gradcam" in section_ids(page)
    assert "Grad-CAM was not computed: not available for tflite models (no gradients)." in page
    del r["gradcam"]
    page = render_report(write(tmp_path / "run2", r), strict=True).read_text(encoding="utf-8")
    assert "gradcam" not in section_ids(page)


def _sprinkle(node, depth=0):
    """Add an unknown structured field to every mapping (a later schema version)."""
    if isinstance(node, dict):
        for v in list(node.values()):
            _sprinkle(v, depth + 1)
        node["zz_future_field"] = {"nested": [1, None, {"deeper": "x"}]}
    elif isinstance(node, list):
        for v in node:
            _sprinkle(v, depth + 1)


def test_unknown_fields_everywhere_change_nothing(sample, tmp_path):
    run, results = sample
    base = render_report(write(tmp_path / "a", results), strict=True).read_text(encoding="utf-8")
    noisy = copy.deepcopy(results)
    _sprinkle(noisy)
    page = render_report(write(tmp_path / "b", noisy), strict=True).read_text(encoding="utf-8")
    assert section_ids(page) == section_ids(base)
    assert "zz_future_field" not in page


def test_a_section_that_fails_is_reported_not_fatal(sample, tmp_path, monkeypatch):
    from reports.views import thresholds

    def broken(*args, **kwargs):
        raise KeyError("thresholds")

    monkeypatch.setattr(thresholds, "thresholds", broken)
    run, _ = sample
    page = render_report(run).read_text(encoding="utf-8")
    assert section_ids(page) == ["summary", "dataset", "performance", "thresholds", "robustness",
                                 "gradcam", "misclassified", "methods"]
    assert "This section could not be rendered from results.json (KeyError: &#39;thresholds&#39;)" in page
    with pytest.raises(KeyError):
        render_report(run, strict=True)


def test_odd_shapes_are_tolerated(sample, tmp_path):
    _, results = sample
    r = copy.deepcopy(results)
    r["metrics"]["groupings"]["group"]["variants"]["clean"]["groups"] = ["not", "a", "mapping"]
    r["metrics"]["groupings"]["group"]["variants"]["clean"]["overall"]["metrics"]["roc_auc"]["value"] = "high"
    r["perturbations"]["variants"].append("blur@9")
    r["gates"]["verdicts"].append(None)
    page = render_report(write(tmp_path / "run", r), strict=True).read_text(encoding="utf-8")
    assert "performance" in section_ids(page)
    assert "could not be rendered" not in page


def test_without_samples_or_thumbnails_the_report_still_renders(sample, tmp_path):
    _, results = sample
    page = render_report(write(tmp_path / "bare", results), strict=True).read_text(encoding="utf-8")
    assert "data:image/jpeg" not in page
    assert "no picture" in page                      # galleries keep their places and counts
    assert "misclassified" in section_ids(page)


def test_results_argument_equals_reading_the_file(sample, tmp_path):
    run, results = sample
    a = render_report(run, results=results).read_bytes()
    b = render_report(run).read_bytes()
    assert a == b


def test_gallery_limit_bounds_the_pictures(sample):
    run, _ = sample
    small = build_view(run, gallery_limit=2)["sections"]["misclassified"]
    for block in small["blocks"]:
        assert len(block["fp"]) <= 2 and len(block["fn"]) <= 2


def test_cli_report_command_renders_a_run_directory(sample):
    run, _ = sample
    (run / "report.html").unlink()
    proc = subprocess.run([sys.executable, "-m", "harness", "report", str(run), "--quiet"], cwd=REPO,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert (run / "report.html").is_file()
    assert proc.stdout.strip().endswith("report.html")


def test_in_memory_results_with_numpy_values_render_like_the_file(sample, tmp_path):
    import numpy as np

    run, results = sample
    r = copy.deepcopy(results)
    cell = r["metrics"]["groupings"]["group"]["variants"]["clean"]["overall"]
    cell["n"] = np.int64(cell["n"])
    cell["metrics"]["roc_auc"]["value"] = np.float64(cell["metrics"]["roc_auc"]["value"])
    cell["metrics"]["roc_auc"]["ci"] = np.asarray(cell["metrics"]["roc_auc"]["ci"])
    assert render_report(run, results=r).read_bytes() == render_report(run, results=results).read_bytes()


def test_a_run_without_findings_gets_them_from_the_pipeline_and_renders_alike(sample, tmp_path):
    import shutil

    import pandas as pd

    run, results = sample
    base = render_report(run, strict=True).read_bytes()
    old = tmp_path / "old"
    shutil.copytree(run, old)
    bare = {k: v for k, v in results.items() if k != "findings"}
    (old / "results.json").write_text(json.dumps(bare), encoding="utf-8")
    samples = pd.read_csv(run / "samples.csv")
    samples[[c for c in samples.columns if not c.startswith("flip[")]].to_csv(old / "samples.csv", index=False)
    assert render_report(old, strict=True).read_bytes() == base


def test_label_group_swatches_come_from_the_findings(sample, tmp_path):
    from reports import colour

    run, results = sample
    r = copy.deepcopy(results)
    groups = r["findings"]["label_group_ita"]["fitzpatrick"]
    assert sum(v is not None for v in groups.values()) >= 5
    groups["1"] = -80.0
    view = build_view(write(tmp_path / "run", r), strict=True)["sections"]["performance"]
    rows = {row["name"]: row for g in view["groupings"] if g["name"] == "fitzpatrick" for row in g["rows"]}
    assert rows["1"]["swatch"] == colour.swatch(ita=-80.0)


def test_the_interval_level_shown_is_the_one_the_run_used(sample, tmp_path):
    run, results = sample
    r = copy.deepcopy(results)
    r["metrics"]["settings"]["ci_level"] = 0.9
    for part in ("drift", "noise_floor"):
        for d in r["gradcam"][part].values():
            d["ci"] = 0.9
    out = write(tmp_path / "run", r)
    page = render_report(out, strict=True).read_text(encoding="utf-8")
    for phrase in ("95% CI", "95% interval", "95% level", "95% paired"):
        assert phrase not in page
    assert "Value (90% CI, n)" in page and "its 90% interval and n" in page and "at the 90% level" in page
    assert "intervals at 90%." in page
    for name in ("summary.md", "model_card.md"):
        text = (out / name).read_text(encoding="utf-8")
        assert "95%" not in text and "90% CI" in text
