"""Threshold curves, best and target thresholds, the what-if, and the misclassified lists."""
from __future__ import annotations

import numpy as np
import pytest
from sklearn import metrics as skm

from harness.metrics import audit_metrics
from harness.metrics.thresholds import threshold_for_sensitivity, threshold_grid


def data(seed=3, n=240):
    rng = np.random.default_rng(seed)
    y = (rng.random(n) < 0.5).astype(int)
    g = np.where(np.arange(n) % 3 == 0, "dark", "light")
    shift = np.where(g == "dark", 0.6, 1.8)
    logit = np.where(y == 1, shift, -1.2) + rng.normal(0, 1, n)
    return y, 1 / (1 + np.exp(-logit)), g


@pytest.fixture(scope="module")
def audit():
    y, p, g = data()
    res = audit_metrics(y_true=y, p={"clean": p}, groups={"tone": g}, threshold=0.5, n_boot=50,
                        target_sensitivity=0.9)
    return y, p, g, res["groupings"]["tone"]


def test_curves_equal_sklearn_at_every_grid_threshold(audit):
    y, p, g, tone = audit
    grid = tone["thresholds"]["grid"]
    assert grid == threshold_grid(101).tolist() and grid[0] == 0.0 and grid[-1] == 1.0
    for cell in ("overall", "dark", "light"):
        th = tone["thresholds"]
        tc = th["overall"] if cell == "overall" else th["groups"][cell]
        rows = np.ones(y.size, bool) if cell == "overall" else g == cell
        yc, pc = y[rows], p[rows]
        ref_f1 = []
        for i, t in enumerate(grid):
            pred = (pc >= t).astype(int)
            (tn, fp), (fn, tp) = skm.confusion_matrix(yc, pred, labels=[0, 1])
            assert tc["tpr"][i] == pytest.approx(tp / (tp + fn), abs=1e-12)
            assert tc["fpr"][i] == pytest.approx(fp / (fp + tn), abs=1e-12)
            assert (tc["precision"][i] is None) == (tp + fp == 0)
            if i % 10 == 0 and tp + fp:     # spot checks through sklearn's own functions
                assert tc["precision"][i] == pytest.approx(skm.precision_score(yc, pred), abs=1e-12)
                assert tc["tpr"][i] == pytest.approx(skm.recall_score(yc, pred), abs=1e-12)
            ref_f1.append(skm.f1_score(yc, pred, average="macro"))
            assert tc["macro_f1"][i] == pytest.approx(ref_f1[-1], abs=1e-12)
        best = int(np.argmax(ref_f1))
        assert tc["best_macro_f1"] == {"threshold": grid[best],
                                       "macro_f1": pytest.approx(ref_f1[best])}
        op = tc["operating"]
        assert op["threshold"] == 0.5
        assert op["tpr"] == pytest.approx(skm.recall_score(yc, (pc >= 0.5).astype(int)))
        # the target threshold reaches 90% sensitivity and is the highest that does
        tt = tc["for_target_sensitivity"]
        assert tt["tpr"] >= 0.9
        above = pc[(yc == 1) & (pc > tt["threshold"])]
        assert above.size / (yc == 1).sum() < 0.9


def test_dark_group_needs_a_lower_threshold(audit):
    _, _, _, tone = audit
    t = tone["thresholds"]["groups"]
    assert t["dark"]["for_target_sensitivity"]["threshold"] < \
        t["light"]["for_target_sensitivity"]["threshold"]
    assert t["dark"]["operating"]["tpr"] < t["light"]["operating"]["tpr"]


def test_threshold_for_sensitivity_known_answer():
    y = np.r_[np.ones(10, int), np.zeros(3, int)]
    p = np.r_[np.arange(1, 11) / 10, [0.95, 0.05, 0.5]]
    assert threshold_for_sensitivity(y, p, 0.9) == pytest.approx(0.2)   # 9 of 10 positives >= 0.2
    assert threshold_for_sensitivity(y, p, 1.0) == pytest.approx(0.1)
    assert threshold_for_sensitivity(y, p, 0.05) == pytest.approx(1.0)
    assert threshold_for_sensitivity(np.zeros(3, int), p[:3], 0.9) is None


def test_what_if_is_labelled_and_skipped_without_two_groups():
    y, p, g = data()
    res = audit_metrics(y_true=y, p={"clean": p}, groups={"tone": np.where(g == "dark", "x", "y")},
                        threshold=0.5, n_boot=20, min_n=100)   # only "y" (160 images) is judged
    w = res["groupings"]["tone"]["threshold_optimizer"]
    assert w["what_if"] is True and "What-if" in w["label"]
    gaps = res["groupings"]["tone"]["variants"]["clean"]["gaps"]
    assert gaps["status"] == "insufficient" and gaps["metrics"] == {}
    assert w["status"] == "skipped" and w["reason"] == gaps["reason"] == (
        "fewer than 2 groups with enough images to compare (only y qualifies; the rule: at least "
        "100 images and 10 of each class)")


def test_misclassified_ranked_by_confidence():
    y = np.array([0, 0, 0, 1, 1, 1, 0, 1] * 5)
    p = np.array([0.9, 0.6, 0.1, 0.2, 0.05, 0.8, 0.7, 0.45] * 5)
    p = p + np.arange(40) * 1e-4      # distinct scores
    g = np.where(np.arange(40) < 24, "a", "b")
    res = audit_metrics(y_true=y, p={"clean": p}, groups={"tone": g}, threshold=0.5, n_boot=20,
                        misclassified_top_k=4)
    mc = res["groupings"]["tone"]["misclassified"]
    pred = p >= 0.5
    fp_all = np.flatnonzero((y == 0) & pred)
    fn_all = np.flatnonzero((y == 1) & ~pred)
    assert mc["overall"]["false_positives"] == fp_all.size == 15
    assert mc["overall"]["false_negatives"] == fn_all.size == 15
    assert [e["index"] for e in mc["overall"]["fp"]] == fp_all[np.argsort(-p[fp_all])][:4].tolist()
    assert [e["index"] for e in mc["overall"]["fn"]] == fn_all[np.argsort(p[fn_all])][:4].tolist()
    assert mc["groups"]["b"]["false_positives"] == int(((y == 0) & pred & (g == "b")).sum())
    assert all(g[e["index"]] == "b" for e in mc["groups"]["b"]["fp"] + mc["groups"]["b"]["fn"])
    # listed even though the groups are too small to judge
    assert res["groupings"]["tone"]["status"]["b"]["status"] == "insufficient"
