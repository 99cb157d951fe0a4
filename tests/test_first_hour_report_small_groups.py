"""A group below the small-group rule keeps its estimates: computed like any other cell, with
their (wide) intervals, marked "too few to judge" with a reason in words, and never compared or
gated."""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
import yaml

sys.path.insert(0, str(Path(__file__).parent))

from gates_runs import make_pair  # noqa: E402
from harness.gates.evaluate import evaluate_gates, load_gates, metric_kind  # noqa: E402
from harness.metrics.catalogue import names  # noqa: E402
from harness.metrics import METRICS, audit_metrics  # noqa: E402
from harness.results.io import read_results  # noqa: E402
from reports import fmt  # noqa: E402

RULE = "(the rule: at least 30 images and 10 of each class)"
PROPORTIONS = ("accuracy", "sensitivity", "specificity", "precision", "npv")


def population(seed: int = 0):
    """80 images of ``big`` (balanced) and 12 of ``tiny``: 4 atopic_dermatitis, 8 eczema."""
    rng = np.random.default_rng(seed)
    groups = np.array(["big"] * 80 + ["tiny"] * 12)
    y = np.r_[np.tile([0, 1], 40), [0] * 4 + [1] * 8]
    p = 1 / (1 + np.exp(-(1.5 * (2 * y - 1) + rng.normal(0, 1, y.size))))
    blur = 1 / (1 + np.exp(-(np.log(p / (1 - p)) + rng.normal(0, 1.5, y.size))))
    return y, {"clean": p, "blur@1": blur}, groups


@pytest.fixture(scope="module")
def audited():
    y, p, groups = population()
    res = audit_metrics(y_true=y, p=p, groups={"tone": groups}, threshold=0.5, n_boot=200, seed=1,
                        class_labels=("atopic_dermatitis", "eczema"))
    alone = audit_metrics(y_true=y[groups == "tiny"], p={k: v[groups == "tiny"] for k, v in p.items()},
                          groups={}, threshold=0.5, n_boot=200, seed=1, min_n=1, min_per_class=1)
    return res, alone


def test_a_small_cell_has_every_estimate_of_a_judged_one(audited):
    res, alone = audited
    tiny = res["groupings"]["tone"]["variants"]["clean"]["groups"]["tiny"]
    same = alone["groupings"]["all"]["variants"]["clean"]["overall"]   # the 12 images judged alone
    assert tiny["status"] == "insufficient" and same["status"] == "ok"
    assert tiny["reason"] == f"too few to judge: 12 images, 4 atopic_dermatitis, 8 eczema {RULE}"
    assert set(tiny["metrics"]) == set(METRICS)
    for m in METRICS:
        got, ref = tiny["metrics"][m], same["metrics"][m]
        assert got["value"] == pytest.approx(ref["value"], abs=1e-12) and got["n"] == ref["n"], m
        if m in PROPORTIONS and ref["value"] is not None:   # n < 50: Wilson, from the counts alone
            assert got["ci_method"] == "wilson" and got["ci"] == pytest.approx(ref["ci"]), m
        elif ref["value"] is not None:
            assert got["ci_method"] == "bootstrap" and got["ci"][0] <= got["value"] <= got["ci"][1], m
    sens = tiny["metrics"]["sensitivity"]
    assert sens["ci"][1] - sens["ci"][0] > 0.3   # the wide interval of 8 positives


def test_a_small_cell_stays_out_of_gaps_what_if_and_curves(audited):
    res, _ = audited
    gr = res["groupings"]["tone"]
    assert gr["gap_groups"] == ["big"] and gr["status"]["tiny"]["status"] == "insufficient"
    gaps = gr["variants"]["clean"]["gaps"]
    assert gaps["status"] == "insufficient" and gaps["metrics"] == {}
    assert gaps["reason"] == ("fewer than 2 groups with enough images to compare (only big qualifies; "
                              "the rule: at least 30 images and 10 of each class)")
    assert gr["threshold_optimizer"]["status"] == "skipped"
    assert gr["threshold_optimizer"]["reason"] == gaps["reason"]
    rob = gr["robustness"]["blur@1"]["groups"]["tiny"]
    assert rob["status"] == "insufficient" and rob["reason"] == gr["status"]["tiny"]["reason"]
    assert rob["flip_rate"]["value"] == rob["counts"]["flips"] / 12 and rob["flip_rate"]["ci_method"] == "wilson"
    assert set(rob["drop"]) == {"balanced_accuracy", "roc_auc"}
    assert gr["severity_curves"]["blur"]["groups"]["tiny"] == {"status": "insufficient", "reason": rob["reason"]}
    assert set(gr["thresholds"]["groups"]["tiny"]) == {"status", "reason", "n"}


def test_the_reason_names_what_falls_short_and_the_rule():
    from harness.metrics.entries import too_few_reason

    assert too_few_reason(n=12, positives=3, min_n=30, min_per_class=10,
                          class_labels=("eczema", "atopic_dermatitis")) == \
        f"too few to judge: 12 images, 9 eczema, 3 atopic_dermatitis {RULE}"
    assert too_few_reason(n=40, positives=31, min_n=30, min_per_class=10) == \
        f"too few to judge: 9 negatives {RULE}"
    assert too_few_reason(n=1, positives=1, min_n=30, min_per_class=10) == \
        f"too few to judge: 1 image, 0 negatives, 1 positive {RULE}"
    # whatever the minimums, one class alone cannot be judged: the rule says so
    assert too_few_reason(n=40, positives=40, min_n=30, min_per_class=0) == \
        "too few to judge: 0 negatives (the rule: at least 30 images and 1 of each class)"
    assert too_few_reason(n=40, positives=20, min_n=30, min_per_class=10) is None


@pytest.fixture(scope="module")
def gate_run(tmp_path_factory):
    base, _ = make_pair(tmp_path_factory.mktemp("small_gates"))
    return read_results(base)


def test_no_gate_judges_a_small_group_whatever_the_metric(gate_run, tmp_path):
    results = gate_run
    gr = results["metrics"]["groupings"]["group"]
    why = gr["status"]["tiny"]["reason"]
    assert why.startswith("too few to judge: 12 images") and why.endswith(RULE)
    assert gr["variants"]["clean"]["groups"]["tiny"]["metrics"]["sensitivity"]["value"] is not None
    assert gr["robustness"]["blur@3"]["groups"]["tiny"]["flip_rate"]["value"] is not None
    gates = []
    simulated_drift = ("drift_cosine", "drift_spearman")   # what gates_runs simulates
    for metric in names(audit="binary"):            # every metric a binary audit has
        kind = metric_kind(metric)
        if kind == "drift" and metric not in simulated_drift:
            continue
        extra = {"perturbation": "blur", "severity": 3} if kind in ("flip", "drop", "drift") else {}
        if kind != "gap":
            gates.append({"name": f"{metric} each", "metric": metric, "scope": "each_group",
                          "min": -1e9, **extra})
            gates.append({"name": f"{metric} pair", "metric": metric, "scope": "group_gap",
                          "groups": ["light", "tiny"], "max": 1e9, **extra})
    path = tmp_path / "gates.yaml"
    path.write_text(yaml.safe_dump({"gates": gates}), encoding="utf-8")
    section = evaluate_gates(results, load_gates(path))
    tiny_rows = [v for v in section["verdicts"] if v["group"] == "tiny" or v["scope"] == "group_gap"]
    judged_elsewhere = [v for v in section["verdicts"] if v["group"] == "light"]
    assert len(tiny_rows) == len(gates)
    # a large group is judged on the same gates
    assert len(judged_elsewhere) >= 20 and {v["verdict"] for v in judged_elsewhere} == {"PASS"}
    for v in tiny_rows:
        assert v["verdict"] == "INSUFFICIENT" and v["value"] is None and v["ci"] is None, v["message"]
        assert v["reason"] in (why, f"group tiny: {why}"), v["message"]
    assert section["passed"] is True


def test_a_report_cell_never_shows_a_small_group_s_number_bare():
    m = {"value": 0.625, "ci": [0.306, 0.863], "n": 8, "ci_method": "wilson", "reason": None}
    cell = fmt.estimate(m, status="insufficient", status_n=12, reason="too few to judge: 12 images")
    assert (cell["kind"], cell["value"], cell["ci"], cell["n"], cell["mark"]) == \
        ("insufficient", "0.625", "[0.306, 0.863]", "n=8", "too few to judge")
    assert cell["raw"] is None and cell["note"] == "too few to judge: 12 images"
    no_ci = fmt.estimate({**m, "ci": None}, status="insufficient", status_n=12)
    assert (no_ci["value"], no_ci["ci"], no_ci["mark"]) == ("too few to judge (n=12)", "", "")
    judged = fmt.estimate(m)
    assert (judged["kind"], judged["mark"], judged["raw"]) == ("ok", "", 0.625)
