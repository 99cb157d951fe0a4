"""A run's report shows the comparison that ``harness compare`` wrote beside it (paired deltas)."""
from __future__ import annotations

import json
import re

import pytest

from reports.render import render_report
from sample_run import make_sample_run


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    from harness.paired.runs import compare_runs
    from harness.results.io import write_results

    root = tmp_path_factory.mktemp("report_compare")
    opts = dict(n=140, n_boot=50, severities=(1, 3), families=("blur",), thumbnails=False, gradcam=False,
                gates=False, seed=6)
    make_sample_run(root / "baseline", skill=0.6, **opts)
    make_sample_run(root / "candidate", skill=1.0, **opts)
    comparison = compare_runs(root / "baseline", root / "candidate", n_boot=50, seed=0)
    write_results(root / "candidate" / "compare" / "comparison.json", comparison)
    return root, comparison


def test_candidate_report_shows_the_paired_comparison(runs):
    root, comparison = runs
    page = render_report(root / "candidate", strict=True).read_text(encoding="utf-8")
    assert 'id="comparison"' in page
    table = page.split('id="comparison-overall"', 1)[1].split("</table>", 1)[0]
    overall = comparison["groupings"]["group"]["deltas"]["overall"]
    for key in ("balanced_accuracy", "roc_auc"):
        e = overall[key]
        delta = f"{e['delta']:+.3f}".replace("-", "−")
        ci = f"[{e['ci'][0]:+.3f}, {e['ci'][1]:+.3f}]".replace("-", "−")
        assert re.search(rf'<span class="v">{re.escape(delta)}</span><span class="sub"><span class="ci">'
                         rf'{re.escape(ci)}</span> · <span class="n">n={e["n"]}</span>', table), key
    assert e["delta"] > 0   # the better-separating simulated model is better


def test_a_comparison_of_another_model_is_not_shown(runs, tmp_path):
    root, comparison = runs
    other = json.loads(json.dumps(comparison))
    other["candidate"]["hash"] = "sha256:" + "0" * 64
    (root / "candidate" / "compare" / "comparison.json").write_text(json.dumps(other), encoding="utf-8")
    try:
        page = render_report(root / "candidate", strict=True).read_text(encoding="utf-8")
        assert 'id="comparison"' not in page
    finally:
        (root / "candidate" / "compare" / "comparison.json").write_text(json.dumps(comparison), encoding="utf-8")
