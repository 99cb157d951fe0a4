"""A planted bias is found; an unbiased control is not flagged.

Scores are simulated the way a lesion that is harder to see on dark skin would behave: on dark
skin the positives' scores separate less from the negatives' (a weaker logit shift), so the
model misses more of them at the same threshold. Light-vs-dark sensitivity gap: the interval
excludes 0 with the bias and contains 0 without it.
"""
from __future__ import annotations

import numpy as np
import pytest

from harness.metrics import audit_metrics

ORDER = ["light", "medium", "dark"]
BASE_SHIFT = 1.2     # sensitivity about 0.88 at threshold 0.5


def simulate(seed: int, *, dark_shift: float, n_per_class: int = 80):
    """Positives' logit ~ N(shift, 1), negatives' ~ N(-1.5, 1); shift 1.2 except on dark skin."""
    rng = np.random.default_rng(seed)
    ys, logits, groups = [], [], []
    for g in ORDER:
        shift = dark_shift if g == "dark" else BASE_SHIFT
        y = np.r_[np.ones(n_per_class, int), np.zeros(n_per_class, int)]
        logit = np.where(y == 1, shift, -1.5) + rng.normal(0, 1, y.size)
        ys.append(y), logits.append(logit), groups.append(np.full(y.size, g, dtype=object))
    # a few images whose skin tone could not be estimated: reported, never compared
    ys.append(np.r_[np.ones(20, int), np.zeros(20, int)])
    logits.append(rng.normal(0, 2, 40))
    groups.append(np.full(40, "unknown", dtype=object))
    y = np.concatenate(ys)
    p = 1 / (1 + np.exp(-np.concatenate(logits)))
    return y, p, np.concatenate(groups)


def sensitivity_gap(seed: int, dark_shift: float) -> tuple[dict, dict]:
    y, p, g = simulate(seed, dark_shift=dark_shift)
    res = audit_metrics(y_true=y, p={"clean": p}, groups={"group": g}, threshold=0.5,
                        n_boot=1000, seed=seed, group_order={"group": ORDER})
    grouping = res["groupings"]["group"]
    assert grouping["groups"] == ORDER + ["unknown"]
    assert grouping["gap_groups"] == ORDER            # "unknown" is ok-sized but not compared
    return grouping["variants"]["clean"]["gaps"], grouping


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_planted_bias_is_found(seed):
    gaps, grouping = sensitivity_gap(seed, dark_shift=0.0)
    sens = gaps["metrics"]["sensitivity"]
    fvl = sens["first_vs_last"]
    assert (fvl["first"], fvl["last"]) == ("light", "dark")
    lo, hi = fvl["difference"]["ci"]
    assert 0 < lo <= fvl["difference"]["value"] <= hi      # light - dark > 0, interval excludes 0
    assert sens["worst_group"] == "dark"
    assert gaps["equalized_odds_difference"]["ci"][0] > 0.1
    # dark's own interval lies below light's: the cells tell the same story
    cells = grouping["variants"]["clean"]["groups"]
    assert cells["dark"]["metrics"]["sensitivity"]["ci"][1] < \
        cells["light"]["metrics"]["sensitivity"]["ci"][0]
    # the what-if narrows the equalized-odds gap
    whatif = grouping["threshold_optimizer"]
    assert whatif["what_if"] is True and whatif["status"] == "ok"
    before, after = (whatif[f"equalized_odds_difference_{w}"] for w in ("before", "after"))
    assert after < before / 2


def test_unbiased_control_is_not_flagged():
    contains_zero = []
    for seed in range(5):
        gaps, _ = sensitivity_gap(seed, dark_shift=BASE_SHIFT)
        lo, hi = gaps["metrics"]["sensitivity"]["first_vs_last"]["difference"]["ci"]
        contains_zero.append(lo <= 0 <= hi)
    assert sum(contains_zero) >= 4, contains_zero
