"""Nominal 95% intervals cover the truth about 95% of the time.

Two simulated skin-tone groups with known true sensitivity and specificity; each of 600 seeded
simulations draws a fresh data set, resamples it with the audit's own stratified resampler
(B = 1000) and takes the audit's percentile interval. The statistic per replicate is computed here
from the resampled rows; ``test_audit_interval_is_the_simulated_interval`` shows that
``audit_metrics`` returns exactly this interval for the same data and seed.
"""
from __future__ import annotations

import numpy as np
import pytest

from harness.metrics import audit_metrics, bootstrap_indices, percentile_interval, wilson_interval
from harness.metrics.bootstrap import wilson_bounds
from harness.metrics.entries import use_wilson

TRUTH = {"light": (0.85, 0.80), "dark": (0.70, 0.75)}   # group -> (sensitivity, specificity)
N_CLASS = 100          # positives and negatives per group (above the Wilson cut-off of 50)
N_SIMS = 600
B = 1000


def simulate(sim: int):
    """One data set: y, p, group; positives predicted positive with the group's true TPR."""
    rng = np.random.default_rng(10_000 + sim)
    ys, ps, gs = [], [], []
    for g, (tpr, tnr) in TRUTH.items():
        y = np.r_[np.ones(N_CLASS, bool), np.zeros(N_CLASS, bool)]
        above = np.where(y, rng.random(2 * N_CLASS) < tpr, rng.random(2 * N_CLASS) >= tnr)
        p = np.where(above, 0.5 + 0.5 * rng.random(2 * N_CLASS), 0.5 * rng.random(2 * N_CLASS))
        ys.append(y), ps.append(p), gs.append(np.full(2 * N_CLASS, g))
    return np.concatenate(ys), np.concatenate(ps), np.concatenate(gs)


def replicate_rates(y, p, g, seed):
    """(B+1, groups, [sensitivity, specificity]); row 0 is the point estimate."""
    idx = bootstrap_indices(g, y, n_boot=B, seed=seed)
    idx = np.vstack([np.arange(y.size), idx])
    correct = (p >= 0.5) == y
    c = correct[idx]                                        # (B+1, N): slot j keeps j's stratum
    out = np.empty((B + 1, len(TRUTH), 2))
    for k, name in enumerate(TRUTH):
        for j, cls in enumerate((True, False)):
            slots = (g == name) & (y == cls)
            out[:, k, j] = c[:, slots].mean(axis=1)
    return out


def test_nominal_95_intervals_cover_known_rates():
    truth = np.array([[tpr, tnr] for tpr, tnr in TRUTH.values()])
    hits = {"sensitivity": [], "specificity": [], "sensitivity_gap": []}
    for sim in range(N_SIMS):
        y, p, g = simulate(sim)
        r = replicate_rates(y, p, g, seed=sim)
        lo, hi, n_undef = percentile_interval(r[1:])
        assert not n_undef.any()
        hits["sensitivity"] += list((lo[:, 0] <= truth[:, 0]) & (truth[:, 0] <= hi[:, 0]))
        hits["specificity"] += list((lo[:, 1] <= truth[:, 1]) & (truth[:, 1] <= hi[:, 1]))
        gap = r[:, 0, 0] - r[:, 1, 0]                       # light - dark, same resamples
        glo, ghi, _ = percentile_interval(gap[1:])
        hits["sensitivity_gap"].append(glo <= truth[0, 0] - truth[1, 0] <= ghi)
    coverage = {k: float(np.mean(v)) for k, v in hits.items()}
    for k, c in coverage.items():
        assert 0.93 <= c <= 0.97, coverage


def test_audit_interval_is_the_simulated_interval():
    """audit_metrics builds the same resamples and the same percentile interval."""
    for sim in range(2):
        y, p, g = simulate(sim)
        r = replicate_rates(y, p, g, seed=sim)
        res = audit_metrics(y_true=y, p={"clean": p}, groups={"tone": g}, threshold=0.5,
                            n_boot=B, seed=sim)
        tone = res["groupings"]["tone"]["variants"]["clean"]
        for k, name in enumerate(TRUTH):
            for j, metric in enumerate(("sensitivity", "specificity")):
                got = tone["groups"][name]["metrics"][metric]
                lo, hi, _ = percentile_interval(r[1:, k, j])
                assert got["ci_method"] == "bootstrap"
                assert got["value"] == pytest.approx(r[0, k, j], abs=1e-12)
                assert got["ci"] == pytest.approx([float(lo), float(hi)], abs=1e-12)
        gap = tone["gaps"]["metrics"]
        fvl = gap["sensitivity"]["first_vs_last"]
        assert (fvl["first"], fvl["last"]) == ("dark", "light")   # sorted order without group_order
        d = r[:, 1, 0] - r[:, 0, 0]
        lo, hi, _ = percentile_interval(d[1:])
        assert fvl["difference"]["ci"] == pytest.approx([float(lo), float(hi)], abs=1e-12)


def test_bootstrap_indices_are_stratified_and_seeded():
    y, p, g = simulate(0)
    idx = bootstrap_indices(g, y, n_boot=50, seed=4)
    assert idx.shape == (50, y.size)
    # every slot draws from its own (group, label) stratum
    assert (g[idx] == g[None, :]).all() and (y[idx] == y[None, :]).all()
    assert (idx == bootstrap_indices(g, y, n_boot=50, seed=4)).all()
    assert not (idx == bootstrap_indices(g, y, n_boot=50, seed=5)).all()
    # with replacement: some image appears more than once in a replicate
    assert max(np.bincount(row).max() for row in idx) > 1


def test_wilson_known_values_and_rule():
    lo, hi = wilson_interval(0, 10)
    assert lo == 0.0 and hi == pytest.approx(1.959964 ** 2 / (10 + 1.959964 ** 2), abs=1e-6)
    lo, hi = wilson_interval(8, 10)
    assert (lo, hi) == pytest.approx((0.4901625, 0.9433178), abs=1e-6)
    # A small group's sensitivity of 1.0 gets Wilson, not a degenerate [1, 1] bootstrap interval
    rng = np.random.default_rng(0)
    y = np.r_[np.ones(40, int), np.zeros(40, int)]
    p = np.where(y == 1, 0.9, rng.random(80) * 0.6)
    res = audit_metrics(y_true=y, p={"clean": p}, groups={}, threshold=0.5, n_boot=200)
    sens = res["groupings"]["all"]["variants"]["clean"]["overall"]["metrics"]["sensitivity"]
    assert sens["value"] == 1.0 and sens["ci_method"] == "wilson"
    assert sens["ci"][1] == 1.0 and sens["ci"][0] == pytest.approx(wilson_interval(40, 40)[0])
    assert sens["ci"][0] < 0.95



def test_a_constant_classifier_has_no_zero_width_accuracy_interval():
    # Resampling within each label keeps the class counts fixed, so a model that always says
    # "negative" has the same accuracy in every resample. That is no certainty: the interval
    # falls back to Wilson instead of a point.
    y = np.r_[np.ones(60, int), np.zeros(90, int)]
    p = np.full(150, 0.2)
    res = audit_metrics(y_true=y, p={"clean": p}, groups={}, threshold=0.5, n_boot=200)
    acc = res["groupings"]["all"]["variants"]["clean"]["overall"]["metrics"]["accuracy"]
    assert acc["value"] == pytest.approx(0.6)
    assert acc["ci_method"] == "wilson"
    assert acc["ci"] == pytest.approx([float(b) for b in wilson_interval(90, 150)])
    assert acc["ci"][1] - acc["ci"][0] > 0.1

def test_wilson_rule_small_denominators_and_small_counts():
    assert use_wilson(20, 40)                 # denominator below 50
    assert use_wilson(0, 500) and use_wilson(500, 500)
    assert use_wilson(3, 100) and use_wilson(97, 100)   # fewer than 5 failures / successes
    assert not use_wilson(85, 100)
    for k, n in [(0, 7), (3, 7), (7, 7), (12, 80), (79, 80)]:
        lo, hi = wilson_interval(k, n)
        assert wilson_bounds(k, n) == pytest.approx((float(lo), float(hi)), abs=1e-15)
    assert wilson_bounds(0, 0) is None
    assert np.isnan(wilson_interval(0, 0)[0])
