"""``compare``'s numbers against direct computations: paired intervals from a numpy loop over the
same resample indices, McNemar from its formula and from scipy, gaps and corruption error."""
from __future__ import annotations

import math
import sys
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
from scipy import stats

sys.path.insert(0, str(Path(__file__).parent))

from gates_runs import make_pair  # noqa: E402
from harness.paired.runs import compare_runs, read_run  # noqa: E402
from harness.metrics.paired_stats import mcnemar  # noqa: E402
from harness.metrics import audit_metrics, bootstrap_indices, paired_deltas  # noqa: E402

N_BOOT, SEED = 300, 7


@pytest.fixture(scope="module")
def pair(tmp_path_factory):
    base_dir, cand_dir = make_pair(tmp_path_factory.mktemp("compare_paired"), n_boot=100)
    comparison = compare_runs(base_dir, cand_dir, n_boot=N_BOOT, seed=SEED)
    base, cand = read_run(base_dir), read_run(cand_dir)
    y = (base.labels == "eczema").astype(int)
    groups = base.columns["group"].astype(str)
    return comparison, base, cand, y, groups


def sens(y, pred):
    return np.sum(pred & (y == 1)) / np.sum(y == 1)


def spec(y, pred):
    return np.sum(~pred & (y == 0)) / np.sum(y == 0)


def auc(y, p):
    pos, neg = p[y == 1], p[y == 0]
    diff = pos[:, None] - neg[None, :]
    return ((diff > 0).sum() + 0.5 * (diff == 0).sum()) / diff.size


STATS = {
    "sensitivity": lambda y, p, t: sens(y, p >= t),
    "balanced_accuracy": lambda y, p, t: (sens(y, p >= t) + spec(y, p >= t)) / 2,
    "roc_auc": lambda y, p, t: auc(y, p),
    "brier": lambda y, p, t: np.mean((p - y) ** 2),
}


@pytest.mark.parametrize("metric", sorted(STATS))
@pytest.mark.parametrize("cell", ["overall", "dark", "light"])
def test_paired_interval_equals_a_loop_over_the_same_resamples(pair, metric, cell):
    comparison, base, cand, y, groups = pair
    f = STATS[metric]
    pb, pc = base.p["clean"], cand.p["clean"]
    tb, tc = base.threshold, cand.threshold
    idx = bootstrap_indices(groups, y, n_boot=N_BOOT, seed=SEED)
    cols = np.arange(y.size) if cell == "overall" else np.flatnonzero(groups == cell)
    deltas = []
    for row in idx:
        ii = row[cols]                # the images drawn into this cell's slots in this resample
        deltas.append(f(y[ii], pc[ii], tc) - f(y[ii], pb[ii], tb))
    lo, hi = np.percentile(deltas, [2.5, 97.5])
    point = f(y[cols], pc[cols], tc) - f(y[cols], pb[cols], tb)
    d = comparison["groupings"]["group"]["deltas"]
    e = d["overall"][metric] if cell == "overall" else d["groups"][cell][metric]
    assert e["delta"] == pytest.approx(point, abs=1e-12)
    assert e["ci"] == pytest.approx([lo, hi], abs=1e-12)
    assert e["baseline"] == pytest.approx(f(y[cols], pb[cols], tb), abs=1e-12)
    assert e["n"] == (int(y[cols].sum()) if metric == "sensitivity" else
                      int((y[cols] == 0).sum()) if metric == "specificity" else cols.size)


def test_paired_interval_is_narrower_than_unpaired(pair):
    comparison, base, cand, y, groups = pair
    idx = bootstrap_indices(groups, y, n_boot=N_BOOT, seed=SEED)
    other = bootstrap_indices(groups, y, n_boot=N_BOOT, seed=SEED + 1)
    pb, pc = base.p["clean"], cand.p["clean"]
    unpaired = [auc(y[j], pc[j]) - auc(y[i], pb[i]) for i, j in zip(idx, other)]
    lo, hi = np.percentile(unpaired, [2.5, 97.5])
    e = comparison["groupings"]["group"]["deltas"]["overall"]["roc_auc"]
    assert e["ci"][1] - e["ci"][0] < hi - lo
    assert e["ci"][0] > 0 and e["change"] == "better"      # planted: the candidate separates better


def test_every_delta_agrees_with_the_metrics_modules_paired_deltas(pair):
    comparison, base, cand, y, groups = pair
    ref = paired_deltas(y_true=y, p_baseline=base.p["clean"], p_candidate=cand.p["clean"],
                        groups=groups, threshold_baseline=base.threshold,
                        threshold_candidate=cand.threshold, n_boot=N_BOOT, seed=SEED)
    d = comparison["groupings"]["group"]["deltas"]
    for cell in ("overall", "light", "dark"):
        mine = d["overall"] if cell == "overall" else d["groups"][cell]
        theirs = ref["overall"] if cell == "overall" else ref["groups"][cell]
        for metric, g in theirs.items():
            assert mine[metric]["delta"] == pytest.approx(g["value"], abs=1e-12), (cell, metric)
            assert mine[metric]["ci"] == pytest.approx(g["ci"], abs=1e-12), (cell, metric)


def direct_mcnemar_p(b: int, c: int) -> float:
    n = b + c
    if n == 0:
        return 1.0
    if n < 25:
        tail = sum(Fraction(math.comb(n, k), 2 ** n) for k in range(min(b, c) + 1))
        return float(min(Fraction(1), 2 * tail))
    return float(stats.chi2.sf(max(abs(b - c) - 1, 0) ** 2 / n, df=1))


@pytest.mark.parametrize("cell", ["overall", "light", "dark", "tiny", "unknown"])
def test_mcnemar_counts_and_p_values_from_the_formula(pair, cell):
    comparison, base, cand, y, groups = pair
    cols = np.arange(y.size) if cell == "overall" else np.flatnonzero(groups == cell)
    rb = (base.p["clean"][cols] >= base.threshold) == y[cols]
    rc = (cand.p["clean"][cols] >= cand.threshold) == y[cols]
    b, c = int(np.sum(rb & ~rc)), int(np.sum(~rb & rc))
    mc = comparison["groupings"]["group"]["mcnemar"]
    m = mc["overall"] if cell == "overall" else mc["groups"][cell]
    assert (m["baseline_only_correct"], m["candidate_only_correct"]) == (b, c)
    assert m["both_correct"] + m["both_wrong"] + b + c == cols.size == m["n"]
    d = comparison["groupings"]["group"]["deltas"]
    judged = (d["overall"] if cell == "overall" else d["groups"][cell])["status"] == "ok"
    if not judged:  # too small to judge: the counts, no test
        assert m["status"] == "insufficient" and m["p_value"] is None and m["favours"] is None
        return
    assert m["p_value"] == pytest.approx(direct_mcnemar_p(b, c), rel=1e-9, abs=1e-15)
    if 0 < b + c < 25:
        assert m["method"] == "exact binomial"
        assert m["p_value"] == pytest.approx(stats.binomtest(min(b, c), b + c, 0.5).pvalue,
                                             rel=1e-9)


def test_mcnemar_both_branches_on_known_tables():
    def table(b, c, same=40):
        a = np.array([True] * same + [True] * b + [False] * c)
        d = np.array([True] * same + [False] * b + [True] * c)
        return mcnemar(a, d)

    small = table(3, 12)                                   # 15 discordant: exact
    assert small["method"] == "exact binomial" and small["statistic"] is None
    assert small["p_value"] == pytest.approx(stats.binomtest(3, 15, 0.5).pvalue, rel=1e-12)
    assert small["favours"] == "candidate"
    big = table(30, 12)                                    # 42 discordant: chi-square, corrected
    assert big["method"] == "chi-square with continuity correction"
    assert big["statistic"] == pytest.approx((18 - 1) ** 2 / 42)
    assert big["p_value"] == pytest.approx(stats.chi2.sf((18 - 1) ** 2 / 42, 1), rel=1e-12)
    assert big["favours"] == "baseline"
    tied = table(15, 15)                                  # b = c: no evidence either way
    assert tied["statistic"] == 0.0 and tied["p_value"] == 1.0 and tied["favours"] is None
    assert table(13, 14)["p_value"] == 1.0                 # |b - c| = 1: corrected to 0
    same = table(0, 0)
    assert same["p_value"] == 1.0 and same["favours"] is None
    assert table(24, 0)["method"] == "exact binomial" and table(25, 0)["method"].startswith("chi")


def test_planted_mcnemar_favours_the_candidate_significantly(pair):
    comparison = pair[0]
    m = comparison["groupings"]["group"]["mcnemar"]
    assert m["overall"]["favours"] == "candidate" and m["overall"]["p_value"] < 1e-3
    assert m["groups"]["dark"]["favours"] == "candidate" and m["groups"]["dark"]["p_value"] < 1e-3


def test_gap_delta_equals_a_loop(pair):
    comparison, base, cand, y, groups = pair
    idx = bootstrap_indices(groups, y, n_boot=N_BOOT, seed=SEED)
    members = {g: np.flatnonzero(groups == g) for g in ("light", "dark")}

    def gap(p, t, rows):
        vals = {g: sens(y[rows[m]], p[rows[m]] >= t) for g, m in members.items()}
        return vals

    point_b = gap(base.p["clean"], base.threshold, np.arange(y.size))
    point_c = gap(cand.p["clean"], cand.threshold, np.arange(y.size))
    # groups fixed by each model's point estimate: max group minus min group
    hb, lb = max(point_b, key=point_b.get), min(point_b, key=point_b.get)
    hc, lc = max(point_c, key=point_c.get), min(point_c, key=point_c.get)
    deltas = []
    for row in idx:
        vb = gap(base.p["clean"], base.threshold, row)
        vc = gap(cand.p["clean"], cand.threshold, row)
        deltas.append((vc[hc] - vc[lc]) - (vb[hb] - vb[lb]))
    e = comparison["groupings"]["group"]["gaps"]["metrics"]["sensitivity"]
    assert e["baseline_groups"] == [hb, lb] == ["light", "dark"]
    assert e["delta"] == pytest.approx((point_c[hc] - point_c[lc]) - (point_b[hb] - point_b[lb]))
    assert e["ci"] == pytest.approx(list(np.percentile(deltas, [2.5, 97.5])), abs=1e-12)
    assert e["change"] == "better"                 # planted: the candidate closed the gap


def test_flip_rate_delta_equals_a_loop(pair):
    comparison, base, cand, y, groups = pair
    idx = bootstrap_indices(groups, y, n_boot=N_BOOT, seed=SEED)
    cols = np.flatnonzero(groups == "dark")

    def flips(run, rows):
        t = run.threshold
        return np.mean((run.p["clean"][rows] >= t) != (run.p["blur@3"][rows] >= t))

    deltas = [flips(cand, row[cols]) - flips(base, row[cols]) for row in idx]
    e = comparison["groupings"]["group"]["robustness"]["blur@3"]["groups"]["dark"]["flip_rate"]
    assert e["delta"] == pytest.approx(flips(cand, cols) - flips(base, cols))
    assert e["ci"] == pytest.approx(list(np.percentile(deltas, [2.5, 97.5])), abs=1e-12)
    assert e["change"] == "better" and e["delta"] < 0      # planted: the candidate is robust


def test_corruption_error_point_values_match_the_metrics_reference_and_a_loop(pair):
    comparison, base, cand, y, groups = pair
    ce = comparison["groupings"]["group"]["corruption_error"]
    ref = audit_metrics(y_true=y, p=cand.p, groups={"group": groups}, threshold=cand.threshold,
                        n_boot=20, seed=0, reference=base.metrics)
    theirs = ref["groupings"]["group"]["corruption_error"]
    assert ce["overall"]["ce"]["blur"]["value"] == pytest.approx(theirs["overall"]["ce"]["blur"])
    assert ce["overall"]["relative_ce"]["blur"]["value"] == pytest.approx(
        theirs["overall"]["relative_ce"]["blur"])
    assert ce["groups"]["dark"]["mce"]["value"] == pytest.approx(theirs["groups"]["dark"]["mce"])
    assert ce["groups"]["dark"]["relative_mce"]["value"] == pytest.approx(
        theirs["groups"]["dark"]["relative_mce"])
    assert set(ce["overall"]) == {"ce", "relative_ce", "mce", "relative_mce"}
    idx = bootstrap_indices(groups, y, n_boot=N_BOOT, seed=SEED)

    def err(run, v, rows):
        p = run.p[v][rows]
        return 1 - STATS["balanced_accuracy"](y[rows], p, run.threshold)

    reps = [sum(err(cand, f"blur@{s}", r) for s in (1, 2, 3))
            / sum(err(base, f"blur@{s}", r) for s in (1, 2, 3)) for r in idx]
    assert ce["overall"]["ce"]["blur"]["ci"] == pytest.approx(
        list(np.percentile(reps, [2.5, 97.5])), abs=1e-12)
    assert ce["overall"]["mce"]["ci"][1] < 1     # planted: fewer errors under blur


def test_same_seed_same_bytes(pair, tmp_path):
    import json

    comparison, base, cand, *_ = pair
    again = compare_runs(base.path, cand.path, n_boot=N_BOOT, seed=SEED)
    assert json.dumps(again, sort_keys=True) == json.dumps(comparison, sort_keys=True)


def test_batched_kernels_equal_one_call_per_score_vector():
    from harness.metrics.paired_stats import cell_replicates_many, flip_replicates_many
    from harness.metrics import binary_metrics, counts_from_indices

    rng = np.random.default_rng(1)
    n = 90
    y = (rng.random(n) < 0.4).astype(int)
    P = rng.random((3, n))
    idx = bootstrap_indices(np.array(["a"] * n), y, n_boot=50, seed=2)
    W = np.vstack([np.ones((1, n)), counts_from_indices(idx, n)])
    many = cell_replicates_many(y, P, thresholds=[0.3, 0.5, 0.7], weights=W)
    for k, t in enumerate((0.3, 0.5, 0.7)):
        one = binary_metrics(y, P[k], threshold=t, weights=W)
        for metric, arr in one.items():
            np.testing.assert_allclose(many[metric][k], arr, rtol=1e-12, atol=1e-15,
                                       equal_nan=True, err_msg=metric)
    fl = flip_replicates_many(y, P[:2], P[1:], thresholds=[0.5, 0.6], weights=W)
    for k, t in enumerate((0.5, 0.6)):
        flipped = (P[k] >= t) != (P[k + 1] >= t)
        np.testing.assert_allclose(fl["flip_rate"][k], (W @ flipped) / W.sum(axis=1), rtol=1e-14)
        np.testing.assert_allclose(fl["mean_abs_delta_p"][k],
                                   (W @ np.abs(P[k + 1] - P[k])) / W.sum(axis=1), rtol=1e-14)


@pytest.mark.parametrize("cell", ["overall", "light", "dark"])
def test_each_delta_carries_its_own_denominator(pair, cell):
    comparison, _, _, y, groups = pair
    cols = np.arange(y.size) if cell == "overall" else np.flatnonzero(groups == cell)
    d = comparison["groupings"]["group"]["deltas"]
    entry = d["overall"] if cell == "overall" else d["groups"][cell]
    assert entry["sensitivity"]["n"] == int(y[cols].sum())          # the positives
    assert entry["specificity"]["n"] == int((y[cols] == 0).sum())   # the negatives
    assert entry["accuracy"]["n"] == entry["roc_auc"]["n"] == cols.size
    assert entry["precision"]["n"] is None  # each model's own predicted positives


def test_each_models_value_has_its_own_interval(pair):
    comparison, base, cand, y, groups = pair
    e = comparison["groupings"]["group"]["deltas"]["overall"]["brier"]
    idx = bootstrap_indices(groups, y, n_boot=N_BOOT, seed=SEED)
    for model, key in ((base, "baseline_ci"), (cand, "candidate_ci")):
        reps = [np.mean((model.p["clean"][row] - y[row]) ** 2) for row in idx]
        assert e[key] == pytest.approx(list(np.percentile(reps, [2.5, 97.5])), abs=1e-12)
