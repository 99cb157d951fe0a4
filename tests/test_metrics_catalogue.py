"""The metric catalogue: one record per metric name, read by the kernels, the gates, compare and the
report; these tests tie it to what the code computes and writes."""
from __future__ import annotations

import numpy as np
import pytest

from harness.metrics.catalogue import (BETWEEN_GROUP_STATISTICS, CATALOGUE, CELL_METRICS, DENOMINATORS,
                                       KINDS, PLACES, REPORT_GAP_METRICS, display_name, names)


def test_every_record_is_complete_and_consistent():
    for name, m in CATALOGUE.items():
        assert m.name == name
        assert m.kind in KINDS and m.where in PLACES
        assert m.denominator in DENOMINATORS
        assert m.display and m.undefined_when and m.undefined_reason
    assert names() == tuple(CATALOGUE)
    assert set(REPORT_GAP_METRICS) <= set(CELL_METRICS)
    assert not set(BETWEEN_GROUP_STATISTICS) & set(CELL_METRICS)


def test_the_kernels_compute_exactly_the_cell_metrics():
    from harness.metrics.rates import binary_metrics

    y = np.array([0, 0, 1, 1, 1, 0])
    p = np.array([0.1, 0.7, 0.8, 0.4, 0.9, 0.2])
    out = binary_metrics(y, p, threshold=0.5)
    assert set(out) - {"tp", "fp", "fn", "tn"} == set(CELL_METRICS)


def test_flip_statistics_and_drift_measures_match_their_kernels():
    from harness.explain.attention import DRIFT_METRICS as ATTENTION
    from harness.metrics.paired_stats import FLIP_STATS as PAIRED_FLIP_STATS
    from harness.metrics.replicates import FLIP_STATS
    from harness.metrics.robustness import DROP_METRICS

    assert names(where="flip") == FLIP_STATS == PAIRED_FLIP_STATS
    assert DROP_METRICS == ("balanced_accuracy", "roc_auc")
    drift = {CATALOGUE[m].source: CATALOGUE[m].higher_is_better for m in names(where="drift")}
    assert drift == {k: kind == "similarity" for k, kind in ATTENTION.items()}


def test_results_carry_the_catalogue_rules_and_reasons():
    from harness.metrics import audit_metrics

    rng = np.random.default_rng(0)
    y = np.r_[np.zeros(40, int), np.ones(40, int)]
    p = np.where(y == 1, 0.3, 0.2) + rng.uniform(0, 0.1, y.size)    # nothing predicted positive
    res = audit_metrics(y_true=y, p={"clean": p}, groups={}, threshold=0.5, n_boot=20)
    info = res["settings"]["metric_info"]
    assert list(info) == list(CELL_METRICS)
    assert info["precision"] == {"higher_is_better": True, "denominator": "predicted_positives",
                                 "undefined_when": "no predicted positives"}
    assert info["ece"]["higher_is_better"] is False
    precision = res["groupings"]["all"]["variants"]["clean"]["overall"]["metrics"]["precision"]
    assert precision["value"] is None
    assert precision["reason"] == CATALOGUE["precision"].undefined_reason == "no predicted positives"


def test_gates_and_compare_read_directions_from_the_catalogue():
    from harness.paired.runs import HEADLINE
    from harness.gates.file import ALL_METRICS, DROP_METRICS, higher_is_better, metric_kind

    assert ALL_METRICS == names()
    assert {m: higher_is_better(m) for m in ALL_METRICS} == \
        {m: r.higher_is_better for m, r in CATALOGUE.items()}
    assert [metric_kind(m) for m in ("roc_auc", "flip_rate", "roc_auc_drop",
                                     "equalized_odds_difference", "drift_ssim")] \
        == ["cell", "flip", "drop", "gap", "drift"]
    assert DROP_METRICS["roc_auc_relative_drop"] == ("roc_auc", "relative")
    assert higher_is_better("wrong_to_right") and not higher_is_better("drift_centroid_shift")
    assert HEADLINE == ("balanced_accuracy", "sensitivity", "specificity", "roc_auc")
    with pytest.raises(ValueError, match="unknown metric 'auc'"):
        metric_kind("auc")


def test_display_names_and_selections():
    assert display_name("precision") == "PPV"
    assert display_name("mean_abs_delta_p") == "Mean |Δp|"
    assert display_name("not_a_metric") == "not a metric"
    assert names(where="gap") == ("equalized_odds_difference", "tpr_difference", "fpr_difference")
    assert names(where="cell", kind="calibration", audit="binary") == ("brier", "ece")
    assert names(where="cell", kind="calibration", audit="kclass") == ("multiclass_brier",
                                                                        "top_label_ece")
    assert names(where="class") == ("class_recall", "class_precision", "class_f1",
                                    "class_roc_auc")
    with pytest.raises(ValueError, match="where must be one of"):
        names(where="cells")
