"""Gate verdicts on runs with planted properties: the interval decides FAIL vs WARN, small groups
are INSUFFICIENT, and every scope reads the number the metrics section holds."""
from __future__ import annotations

import sys
from pathlib import Path

import pytest
import yaml

sys.path.insert(0, str(Path(__file__).parent))

from gates_runs import make_pair  # noqa: E402
from harness.errors import UserError  # noqa: E402
from harness.gates.evaluate import (ALL_METRICS, CELL_METRICS, DRIFT_METRICS, Gate,  # noqa: E402
                           evaluate_gates, judge, load_gates)
from harness.results.io import read_results  # noqa: E402


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    base, cand = make_pair(tmp_path_factory.mktemp("gate_runs"))
    return read_results(base), read_results(cand)


def gates_of(tmp_path, *gates) -> list:
    path = tmp_path / "gates.yaml"
    path.write_text(yaml.safe_dump({"gates": list(gates)}), encoding="utf-8")
    return load_gates(path)


def verdicts(results, tmp_path, *gates, strict=False) -> dict:
    return evaluate_gates(results, gates_of(tmp_path, *gates), strict=strict)


def grouping(results, name="group"):
    return results["metrics"]["groupings"][name]


def clean_overall(results, metric):
    return grouping(results)["variants"]["clean"]["overall"]["metrics"][metric]


# ----------------------------------------------------------------------- the rule itself
def test_bounds_placed_around_the_interval_give_each_verdict(runs, tmp_path):
    base, _ = runs
    m = clean_overall(base, "balanced_accuracy")
    v, (lo, hi) = m["value"], m["ci"]
    assert lo < v < hi
    cases = [
        ({"min": lo - 0.01}, "PASS"),
        ({"min": v}, "PASS"),                          # equal to the bound is within it
        ({"min": (v + hi) / 2}, "WARN"),               # point below min, interval reaches it
        ({"min": hi + 0.01}, "FAIL"),                  # the whole interval below min
        ({"max": hi + 0.01}, "PASS"),
        ({"max": (lo + v) / 2}, "WARN"),
        ({"max": lo - 0.01}, "FAIL"),
        ({"min": lo - 0.02, "max": hi + 0.02}, "PASS"),      # a band
        ({"min": lo - 0.01, "warn_min": v + 0.001}, "WARN"),  # soft bound: point estimate only
        ({"min": lo - 0.01, "warn_min": v - 0.001}, "PASS"),
        ({"max": hi + 0.5, "warn_max": v - 0.001}, "WARN"),
    ]
    for bounds, expected in cases:
        section = verdicts(base, tmp_path, {"name": "ba", "metric": "balanced_accuracy",
                                            "scope": "overall", **bounds})
        (row,) = section["verdicts"]
        assert row["verdict"] == expected, (bounds, row["message"])
        assert row["value"] == v and row["ci"] == [lo, hi] and row["n"] == m["n"]
        assert row["bound"] == {k: bounds[k] for k in ("min", "max") if k in bounds}
        assert section["passed"] is (expected != "FAIL")


def test_judge_undefined_is_insufficient():
    assert judge(None, None, bound={"max": 0.1})[0] == "INSUFFICIENT"
    assert judge(0.3, None, bound={"max": 0.1})[0] == "INSUFFICIENT"
    assert judge(0.3, [0.2, 0.4], bound={"max": 0.1})[0] == "FAIL"


def test_strict_fails_on_warn_only(runs, tmp_path):
    base, _ = runs
    m = clean_overall(base, "balanced_accuracy")
    gate = {"name": "ba", "metric": "balanced_accuracy", "min": (m["value"] + m["ci"][1]) / 2}
    loose = verdicts(base, tmp_path, gate)
    strict = verdicts(base, tmp_path, gate, strict=True)
    assert loose["counts"]["WARN"] == strict["counts"]["WARN"] == 1
    assert loose["passed"] is True and strict["passed"] is False and strict["strict"] is True


# ----------------------------------------------------------------- planted properties
def test_planted_skin_tone_bias_fails_the_gap_gates_and_the_fixed_model_passes(runs, tmp_path):
    base, cand = runs
    gates = [{"name": "sens gap", "metric": "sensitivity", "scope": "group_gap", "max": 0.10},
             {"name": "eod", "metric": "equalized_odds_difference", "max": 0.10}]
    b = verdicts(base, tmp_path, *gates)
    c = verdicts(cand, tmp_path, *gates)
    assert [r["verdict"] for r in b["verdicts"]] == ["FAIL", "FAIL"] and not b["passed"]
    assert [r["verdict"] for r in c["verdicts"]] == ["PASS", "PASS"] and c["passed"]
    gaps = grouping(base)["variants"]["clean"]["gaps"]
    sens, eod = b["verdicts"]
    assert sens["value"] == gaps["metrics"]["sensitivity"]["difference"]["value"]
    assert sens["ci"] == gaps["metrics"]["sensitivity"]["difference"]["ci"]
    assert sens["groups"] == ["light", "dark"]            # max group, min group: the planted bias
    assert eod["value"] == gaps["equalized_odds_difference"]["value"]
    assert eod["group"] is None and eod["scope"] == "group_gap"


def test_small_group_is_insufficient_and_unknown_is_not_judged(runs, tmp_path):
    base, _ = runs
    section = verdicts(base, tmp_path, {"name": "sens", "metric": "sensitivity",
                                        "scope": "each_group", "min": 0.0})
    by_group = {r["group"]: r for r in section["verdicts"]}
    assert set(by_group) == {"light", "dark", "tiny"}     # "unknown" is in gap_exclude
    tiny = by_group["tiny"]
    assert tiny["verdict"] == "INSUFFICIENT" and tiny["value"] is None
    assert tiny["reason"] == grouping(base)["status"]["tiny"]["reason"]
    assert tiny["n"] == grouping(base)["status"]["tiny"]["n"]
    assert section["passed"] is True                     # INSUFFICIENT never fails a run
    assert evaluate_gates(base, gates_of(tmp_path, {"name": "s", "metric": "sensitivity",
                                                    "scope": "each_group", "min": 0.0}),
                          strict=True)["passed"] is True


def test_worst_group_is_the_group_the_gaps_name(runs, tmp_path):
    base, _ = runs
    for metric in ("balanced_accuracy", "sensitivity", "ece"):
        (row,) = verdicts(base, tmp_path, {"name": "w", "metric": metric, "scope": "worst_group",
                                           "max": 10.0, "min": -10.0})["verdicts"]
        gm = grouping(base)["variants"]["clean"]["gaps"]["metrics"][metric]
        worst = gm["worst_group"]
        assert row["groups"] == [worst], metric
        cell = grouping(base)["variants"]["clean"]["groups"][worst]["metrics"][metric]
        assert row["value"] == cell["value"] and row["ci"] == cell["ci"]
    assert gm["worst_group"] is not None
    (row,) = verdicts(base, tmp_path, {"name": "w", "metric": "balanced_accuracy",
                                       "scope": "worst_group", "min": 0.0})["verdicts"]
    assert row["groups"] == ["dark"]                      # planted: the baseline fails dark skin


def test_pairs_of_groups_read_first_vs_last_and_its_mirror(runs, tmp_path):
    base, _ = runs
    fvl = grouping(base)["variants"]["clean"]["gaps"]["metrics"]["roc_auc"]["first_vs_last"]
    assert (fvl["first"], fvl["last"]) == ("light", "dark")
    rows = verdicts(base, tmp_path,
                    {"name": "a", "metric": "roc_auc", "scope": "group_gap",
                     "groups": "first_vs_last", "max": 1.0},
                    {"name": "b", "metric": "roc_auc", "scope": "group_gap",
                     "groups": ["light", "dark"], "max": 1.0},
                    {"name": "c", "metric": "roc_auc", "scope": "group_gap",
                     "groups": ["dark", "light"], "min": -1.0})["verdicts"]
    d = fvl["difference"]
    assert rows[0]["value"] == rows[1]["value"] == d["value"] > 0
    assert rows[0]["ci"] == rows[1]["ci"] == d["ci"]
    assert rows[2]["value"] == -d["value"] and rows[2]["ci"] == [-d["ci"][1], -d["ci"][0]]


def test_gap_of_a_robustness_metric_is_the_difference_of_the_two_groups(runs, tmp_path):
    base, _ = runs
    rows = verdicts(base, tmp_path, {"name": "flip gap", "metric": "flip_rate",
                                     "scope": "group_gap", "groups": ["dark", "light"],
                                     "perturbation": "blur@3", "max": 1.0})["verdicts"]
    (row,) = rows
    rob = grouping(base)["robustness"]["blur@3"]["groups"]
    dark, light = rob["dark"]["flip_rate"], rob["light"]["flip_rate"]
    assert row["value"] == pytest.approx(dark["value"] - light["value"], abs=1e-15)
    lo, hi = row["ci"]
    assert lo < row["value"] < hi
    assert hi - lo > max(dark["ci"][1] - dark["ci"][0], light["ci"][1] - light["ci"][0])
    assert "normal approximation" in row["ci_method"]


def test_fragile_model_fails_flip_rate_where_it_was_planted(runs, tmp_path):
    base, cand = runs
    gate = {"name": "flips", "metric": "flip_rate", "scope": "each_group", "severity": 3,
            "max": 0.10}
    b = {r["group"]: r for r in verdicts(base, tmp_path, gate)["verdicts"]}
    c = verdicts(cand, tmp_path, gate)
    assert b["dark"]["verdict"] == "FAIL" and b["dark"]["variant"] == "blur@3"
    assert (b["dark"]["perturbation"], b["dark"]["severity"]) == ("blur", 3)
    assert b["dark"]["value"] == grouping(base)["robustness"]["blur@3"]["groups"]["dark"][
        "flip_rate"]["value"]
    assert c["passed"] and c["counts"]["FAIL"] == 0


def test_severity_syntax_resolves_to_variants(runs, tmp_path):
    base, _ = runs
    forms = {"<=2": ["blur@1", "blur@2"], "all": ["blur@1", "blur@2", "blur@3"],
             2: ["blur@2"], "[1, 3]": ["blur@1", "blur@3"]}
    for severity, expected in forms.items():
        sev = [1, 3] if severity == "[1, 3]" else severity
        rows = verdicts(base, tmp_path, {"name": "drop", "metric": "balanced_accuracy_drop",
                                         "severity": sev, "max": 1.0})["verdicts"]
        assert [r["variant"] for r in rows] == expected, severity
    rows = verdicts(base, tmp_path, {"name": "auc blur", "metric": "roc_auc",
                                     "perturbation": "blur", "severity": "<=2",
                                     "min": 0.0})["verdicts"]
    cells = grouping(base)["variants"]
    assert [r["value"] for r in rows] == [cells[v]["overall"]["metrics"]["roc_auc"]["value"]
                                         for v in ("blur@1", "blur@2")]
    rows = verdicts(base, tmp_path, {"name": "auc", "metric": "roc_auc", "min": 0.0})["verdicts"]
    assert [r["variant"] for r in rows] == ["clean"] and rows[0]["perturbation"] is None


def test_drop_metrics_read_the_paired_drop(runs, tmp_path):
    base, _ = runs
    rows = verdicts(base, tmp_path, {"name": "rel", "metric": "balanced_accuracy_relative_drop",
                                     "perturbation": "blur@2", "max": 1.0},
                    {"name": "abs", "metric": "roc_auc_drop", "perturbation": "blur@2",
                     "max": 1.0})["verdicts"]
    drop = grouping(base)["robustness"]["blur@2"]["overall"]["drop"]
    assert rows[0]["value"] == drop["balanced_accuracy"]["relative"]["value"]
    assert rows[1]["ci"] == drop["roc_auc"]["absolute"]["ci"]


def test_grad_cam_drift_gate_fails_the_group_whose_attention_drifts(runs, tmp_path):
    base, cand = runs
    gate = {"name": "cosine", "metric": "drift_cosine", "scope": "each_group",
            "severity": "<=2", "min": 0.80}
    b = {(r["group"], r["variant"]): r for r in verdicts(base, tmp_path, gate)["verdicts"]}
    # planted: the baseline's dark-skin cosine falls by 0.12 per severity from 0.97
    assert b[("dark", "blur@2")]["verdict"] == "FAIL"
    assert b[("dark", "blur@1")]["verdict"] == "PASS"
    assert b[("light", "blur@2")]["verdict"] == "PASS"
    assert b[("tiny", "blur@1")]["verdict"] == "INSUFFICIENT"
    med = base["gradcam"]["drift"]["blur@2"]["by_group"]["dark"]["all"]["cosine"]
    assert b[("dark", "blur@2")]["value"] == med["median"]
    assert b[("dark", "blur@2")]["ci"] == med["median_ci"]
    assert verdicts(cand, tmp_path, gate)["passed"]
    no_cam = dict(base, gradcam={"available": False, "reason": "not available for tflite models"})
    section = evaluate_gates(no_cam, gates_of(tmp_path, gate))
    assert {r["verdict"] for r in section["verdicts"]} == {"INSUFFICIENT"}
    assert "tflite" in section["verdicts"][0]["reason"] and section["passed"]


def test_label_grouping_is_judged_by_its_own_groups(runs, tmp_path):
    base, _ = runs
    rows = verdicts(base, tmp_path, {"name": "fitz", "metric": "balanced_accuracy",
                                     "scope": "each_group", "grouping": "fitzpatrick",
                                     "min": 0.0})["verdicts"]
    assert [r["group"] for r in rows] == [g for g in grouping(base, "fitzpatrick")["groups"]
                                          if g != "unknown"]
    assert all(r["grouping"] == "fitzpatrick" for r in rows)


def test_regression_gates_are_skipped_outside_compare(runs, tmp_path):
    base, _ = runs
    section = verdicts(base, tmp_path, {"name": "reg", "metric": "sensitivity",
                                        "scope": "each_group", "max_regression": 0.05})
    assert section["verdicts"] == [] and section["passed"]
    assert section["skipped"][0]["name"] == "reg"


@pytest.mark.parametrize("gate, words", [
    ({"metric": "flip_rate", "perturbation": "blur", "severity": 5, "max": 0.1},
     ["blur@5", "did not include", "--perturbations blur --severities 5", "blur@1-3"]),
    ({"metric": "flip_rate", "perturbation": "blurr", "max": 0.1},
     ["unknown perturbation 'blurr'"]),
    ({"metric": "roc_auc", "perturbation": "redness@2", "min": 0.5},
     ["redness@2", "--perturbations redness --severities 2"]),
    ({"metric": "roc_auc", "grouping": "monk", "min": 0.5},
     ["grouping 'monk'", "group, fitzpatrick"]),
    ({"metric": "roc_auc", "scope": "group_gap", "groups": ["light", "purple"], "max": 0.1},
     ["group 'purple'", "light, dark, tiny, unknown"]),
])
def test_a_gate_the_run_cannot_answer_is_one_line_naming_it(runs, tmp_path, gate, words):
    base, _ = runs
    with pytest.raises(UserError) as err:
        verdicts(base, tmp_path, {"name": "needs more", **gate})
    msg = str(err.value)
    assert "\n" not in msg and "gate #1 ('needs more')" in msg and "gates.yaml" in msg
    for w in words:
        assert w in msg, (w, msg)


def test_metric_tables_match_the_metrics_and_attention_modules():
    from harness.explain.attention import DRIFT_METRICS as ATTENTION
    from harness.metrics import METRIC_INFO, METRICS
    from harness.metrics.catalogue import KCLASS_CELL_METRICS

    # every cell metric of either audit, binary then K-class only
    assert tuple(CELL_METRICS) == tuple(dict.fromkeys(METRICS + KCLASS_CELL_METRICS))
    assert {m: CELL_METRICS[m] for m in METRICS} == {m: METRIC_INFO[m]["higher_is_better"]
                                                     for m in METRICS}
    assert set(DRIFT_METRICS.values()) == set(ATTENTION)
    assert len(set(ALL_METRICS)) == len(ALL_METRICS)


def test_shipped_gate_files_evaluate_on_a_full_run(runs):
    repo = Path(__file__).resolve().parents[1]
    base, cand = runs
    for name in ("ci-default.yaml", "strict.yaml"):
        gates = load_gates(repo / "configs" / "gates" / name)
        b = evaluate_gates(base, gates)
        c = evaluate_gates(cand, gates)
        assert b["verdicts"] and c["verdicts"] and b["skipped"]
        assert not b["passed"], name                       # the planted bias is refused
        assert b["counts"]["FAIL"] > c["counts"]["FAIL"], name
    default = evaluate_gates(cand, load_gates(repo / "configs" / "gates" / "ci-default.yaml"))
    assert default["passed"], [r["message"] for r in default["verdicts"]
                               if r["verdict"] == "FAIL"]


def test_check_gates_refuses_a_run_plan_before_any_work():
    from harness.gates.evaluate import check_gates

    repo = Path(__file__).resolve().parents[1]
    gates = load_gates(repo / "configs" / "gates" / "ci-default.yaml")
    clinical = ["brightness_down", "brightness_up", "contrast_down", "contrast_up", "redness", "blur"]
    check_gates(gates, variants=[f"{f}@{s}" for f in clinical for s in range(1, 6)],
                groupings=["group", "fitzpatrick"])
    with pytest.raises(UserError, match="needs perturbed images, which this run did not include"):
        check_gates(gates, variants=[], groupings=["group"])
    with pytest.raises(UserError, match="needs perturbation blur@1.*--severities 1,2,3"):
        check_gates(gates, variants=["blur@5"], groupings=["group"])
    fitz = [Gate(name="fitz", metric="roc_auc", grouping="fitzpatrick", min=0.5, source="g.yaml")]
    with pytest.raises(UserError, match="grouping 'fitzpatrick' is not in this run"):
        check_gates(fitz, variants=[], groupings=["group"])
