"""Paired model-vs-model deltas on the same resamples (what ``compare`` uses)."""
from __future__ import annotations

import numpy as np
import pytest
from sklearn import metrics as skm

from harness.metrics import bootstrap_counts, paired_deltas, percentile_interval
from harness.metrics.rates import binary_metrics


def data(seed=0, n=300):
    rng = np.random.default_rng(seed)
    y = (rng.random(n) < 0.5).astype(int)
    g = np.where(rng.random(n) < 0.5, "light", "dark")
    base_logit = np.where(y == 1, 1.0, -1.0) + rng.normal(0, 1.2, n)
    # the candidate shares the baseline's errors (same images) and adds a little signal
    better_logit = base_logit + np.where(y == 1, 0.5, -0.5) + rng.normal(0, 0.5, n)
    base, better = 1 / (1 + np.exp(-base_logit)), 1 / (1 + np.exp(-better_logit))
    return y, g, base, better


def test_identical_models_have_zero_deltas():
    y, g, base, _ = data()
    d = paired_deltas(y_true=y, p_baseline=base, p_candidate=base, groups=g,
                      threshold_baseline=0.5, threshold_candidate=0.5, n_boot=200)
    for cell in [d["overall"], *d["groups"].values()]:
        for m, e in cell.items():
            assert e["value"] == 0.0 and e["ci"] == [0.0, 0.0], m


def test_delta_values_and_paired_intervals():
    y, g, base, better = data()
    d = paired_deltas(y_true=y, p_baseline=base, p_candidate=better, groups=g,
                      threshold_baseline=0.5, threshold_candidate=0.45, n_boot=500, seed=3)
    ba = lambda p, t, r: skm.balanced_accuracy_score(y[r], (p[r] >= t).astype(int))
    for cell, rows in [("overall", np.ones(y.size, bool)), ("dark", g == "dark")]:
        e = d["overall"] if cell == "overall" else d["groups"][cell]
        assert e["balanced_accuracy"]["value"] == pytest.approx(
            ba(better, 0.45, rows) - ba(base, 0.5, rows), abs=1e-12)
        assert e["roc_auc"]["value"] == pytest.approx(
            skm.roc_auc_score(y[rows], better[rows]) - skm.roc_auc_score(y[rows], base[rows]))
    # the paired interval equals the percentile interval of per-resample differences, and it is
    # narrower than treating the two models as independent samples
    w = bootstrap_counts(g, y, n_boot=500, seed=3)
    a = binary_metrics(y, base, threshold=0.5, weights=w)["roc_auc"]
    b = binary_metrics(y, better, threshold=0.45, weights=w)["roc_auc"]
    lo, hi, _ = percentile_interval(b - a)
    assert d["overall"]["roc_auc"]["ci"] == pytest.approx([float(lo), float(hi)], abs=1e-12)
    unpaired = percentile_interval(b - np.roll(a, 1))      # pairs broken
    assert hi - lo < float(unpaired[1] - unpaired[0])
    assert d["overall"]["roc_auc"]["ci"][0] > 0              # the better model is better
