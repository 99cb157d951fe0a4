"""``harness demo`` tells the whole story on synthetic skin: two models trained with harness
train's own code, both audited with the CI gates, and compared. A smaller run of the same code."""
from __future__ import annotations

import json

import pytest


@pytest.mark.slow
def test_demo_trains_audits_gates_and_compares(demo_story):
    out, code, printed = demo_story
    assert code == 0
    for name in ("baseline", "tuned"):
        run = out / "runs" / name
        results = json.loads((run / "results.json").read_text())
        assert (run / "report.html").is_file() and (run / "junit.xml").is_file()
        assert str(run / "report.html") in printed
        # The gates were judged, with the intervals, in every scope the CI gate file names.
        gates = results["gates"]
        assert sum(gates["counts"].values()) == len(gates["verdicts"]) > 0
        assert {v["scope"] for v in gates["verdicts"]} >= {"overall", "each_group", "group_gap"}
        # The synthetic test set spans the skin tones: estimated groups and the true bands.
        assert set(results["metrics"]["groupings"]) == {"group", "chardon6_true"}
        sidecar = json.loads((out / "models" / f"{name}.keras").with_suffix(".json").read_text())
        assert sidecar["recipe"] == ("small-cnn" if name == "baseline" else "small-cnn-weighted")
        assert sidecar["validation"]["method"].startswith("stratified 3-fold")
    comparison = json.loads((out / "compare" / "comparison.json").read_text())
    assert comparison["dataset"]["n_images"] == 200
    assert comparison["baseline"]["recipe"] == "small-cnn"
    assert comparison["candidate"]["recipe"] == "small-cnn-weighted"
    # Paired deltas with intervals for every group of both groupings.
    assert set(comparison["groupings"]) == {"group", "chardon6_true"}
    assert (out / "compare" / "comparison.html").is_file()
