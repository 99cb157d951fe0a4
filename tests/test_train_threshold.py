"""The decision threshold: macro-F1 over the original sweep, on out-of-fold training predictions."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

import harness.train.validation as validation
from harness.train.run import train_model
from harness.train.validation import THRESHOLDS, choose_threshold, decision_metrics

from train_helpers import scratch, synthetic_root


def test_sweep_is_the_original_one():
    assert THRESHOLDS[0] == 0.05 and THRESHOLDS[-1] == 0.95 and len(THRESHOLDS) == 19
    assert np.allclose(np.diff(THRESHOLDS), 0.05)


def test_threshold_known_answer():
    # negatives at 0.1..0.3 and one at 0.62; positives at 0.65..0.9 and one at 0.32:
    # thresholds 0.35..0.6 misclassify both strays (macro-F1 0.9); 0.65 classifies the
    # negative stray right and only the positive stray wrong (one error): the best.
    y = np.array([0] * 10 + [1] * 10)
    p = np.r_[np.linspace(0.1, 0.3, 9), 0.62, np.linspace(0.65, 0.9, 9), 0.32]
    t, sweep = choose_threshold(y, p)
    assert t == 0.65
    f1 = {r["threshold"]: r["macro_f1"] for r in sweep}
    assert f1[0.65] == pytest.approx(decision_metrics(y, p, threshold=0.65)["macro_f1"])
    assert f1[0.6] == pytest.approx(0.9)
    assert f1[0.65] > max(v for k, v in f1.items() if k != 0.65)
    # 19 right of 20, one positive missed: class F1 = 2*9/(2*9+1) and 2*10/(2*10+1)
    assert f1[0.65] == pytest.approx((18 / 19 + 20 / 21) / 2)


def test_ties_go_to_the_threshold_nearest_one_half():
    y = np.array([0, 0, 1, 1])
    p = np.array([0.1, 0.2, 0.8, 0.9])  # every t in (0.2, 0.8] is perfect
    t, _ = choose_threshold(y, p)
    assert t == 0.5


def test_decision_metrics_known_answer():
    y = np.array([0, 0, 0, 1, 1, 1, 1, 1])
    p = np.array([0.1, 0.4, 0.7, 0.3, 0.6, 0.8, 0.9, 0.95])
    m = decision_metrics(y, p, threshold=0.5)
    assert m["n"] == 8 and m["n_positive"] == 5
    assert m["accuracy"] == pytest.approx(6 / 8)
    assert m["sensitivity"] == pytest.approx(4 / 5) and m["specificity"] == pytest.approx(2 / 3)
    assert m["auc"] == pytest.approx(12 / 15)  # 12 of the 15 (pos, neg) pairs ranked right


def test_fold_thresholds_never_score_the_images_that_chose_them():
    # fold A: separable at 0.45-0.60; fold B: separable at 0.25-0.30. Each fold is scored at the
    # threshold the *other* fold chose: A at 0.30 (every image positive), B at 0.50 (every
    # image negative) -> accuracy 0.5, where the pooled threshold would look far better.
    y = np.array([1, 1, 0, 0, 1, 1, 0, 0])
    oof = np.array([0.6, 0.6, 0.4, 0.4, 0.3, 0.3, 0.2, 0.2])
    splits = [(np.arange(4, 8), np.arange(0, 4)), (np.arange(0, 4), np.arange(4, 8))]
    got = validation.fold_threshold_metrics(y, oof, splits)
    assert got["thresholds"] == [0.30, 0.50]
    assert got["accuracy"] == 0.5 and got["sensitivity"] == 0.5 and got["specificity"] == 0.5
    pooled = decision_metrics(y, oof, threshold=choose_threshold(y, oof)[0])
    assert pooled["accuracy"] == 0.75 > got["accuracy"]


def test_threshold_comes_from_out_of_fold_training_predictions(monkeypatch):
    calls = []
    real = validation.choose_threshold

    def spy(y, p, *args, **kwargs):
        calls.append((np.array(y), np.array(p)))
        return real(y, p, *args, **kwargs)

    monkeypatch.setattr(validation, "choose_threshold", spy)
    root = synthetic_root()
    out = scratch() / "threshold" / "m.keras"
    summary = train_model(data=root, out=out, recipe="class-weighted",
                          backbone_weights="none", input_size=64, folds=3)
    # once on all out-of-fold predictions (the model's threshold), then once per fold on the
    # other folds' predictions (at_fold_thresholds)
    assert len(calls) == 1 + 3
    y, p = calls[0]
    assert len(y) == 48  # the training images only: test/ has 16 more
    assert sorted(len(c[0]) for c in calls[1:]) == [32, 32, 32]
    spec = json.loads(Path(summary["sidecar"]).read_text())
    assert spec["threshold"] == real(y, p)[0]
    expected = decision_metrics(y, p, threshold=spec["threshold"])
    for key, value in expected.items():
        assert spec["validation"][key] == value, key
    # out-of-fold: every image predicted by exactly one fold model, trained without it
    folds = spec["validation"]["per_fold"]
    assert [f["n_train"] + f["n_held_out"] for f in folds] == [48, 48, 48]
