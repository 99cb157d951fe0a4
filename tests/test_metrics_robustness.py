"""Flips, |Δp|, metric drops, severity curves and corruption error against known answers."""
from __future__ import annotations

import numpy as np
import pytest
from sklearn import metrics as skm

from harness.metrics import audit_metrics
from harness.metrics.robustness import split_variant

N = 200


def base():
    """Clean scores far from the threshold; groups a (first 120) and b (last 80)."""
    rng = np.random.default_rng(1)
    y = np.r_[np.ones(60, int), np.zeros(60, int), np.ones(40, int), np.zeros(40, int)]
    p = np.where(y == 1, rng.uniform(0.6, 0.95, N), rng.uniform(0.05, 0.4, N))
    p[[0, 1, 60]] = [0.2, 0.3, 0.8]          # three clean errors in group a: 2 FN, 1 FP
    g = np.r_[np.full(120, "a"), np.full(80, "b")]
    return y, p, g


def variants(y, p):
    """Known perturbations of the clean scores."""
    out = {"clean": p}
    flipped = p.copy()
    flipped[[2, 3, 4, 5, 61, 62]] = 1 - p[[2, 3, 4, 5, 61, 62]]   # 6 right -> wrong in group a
    flipped[[0, 60]] = 1 - p[[0, 60]]                              # 2 wrong -> right in group a
    out["flip@1"] = flipped
    for s in (1, 2, 3):                   # unaffected family: constant shift that crosses nothing
        out[f"shift@{s}"] = np.clip(p + 0.01 * s * np.where(p > 0.5, 1, -1), 0, 1)
    rng = np.random.default_rng(2)
    for s in (1, 2, 4):                   # degrading family: more scores replaced by noise
        q = p.copy()
        k = rng.random(N) < 0.2 * s
        q[k] = rng.random(k.sum())
        out[f"noise@{s}"] = q
    return out


@pytest.fixture(scope="module")
def run():
    y, p, g = base()
    P = variants(y, p)
    res = audit_metrics(y_true=y, p=P, groups={"tone": g}, threshold=0.5, n_boot=400, seed=1)
    return y, P, g, res


def test_flips_known_answer(run):
    y, P, g, res = run
    rob = res["groupings"]["tone"]["robustness"]["flip@1"]
    a = rob["groups"]["a"]
    assert a["counts"] == {"flips": 8, "right_to_wrong": 6, "wrong_to_right": 2}
    assert a["flip_rate"]["value"] == pytest.approx(8 / 120)
    assert a["right_to_wrong"]["value"] == pytest.approx(6 / 120)
    assert a["wrong_to_right"]["value"] == pytest.approx(2 / 120)
    assert a["flip_rate"]["n"] == 120
    changed = [0, 2, 3, 4, 5, 60, 61, 62]
    assert a["mean_abs_delta_p"]["value"] == pytest.approx(
        np.abs(1 - 2 * P["clean"][changed]).sum() / 120)
    b = rob["groups"]["b"]
    assert b["counts"]["flips"] == 0 and b["flip_rate"]["value"] == 0.0
    assert b["flip_rate"]["ci_method"] == "wilson" and b["flip_rate"]["ci"][0] == 0.0
    assert 0 < b["flip_rate"]["ci"][1] < 0.06             # no flip in 80: upper bound ~ 4.6%
    # drop in balanced accuracy, paired: clean - variant, computed independently
    rows = g == "a"
    ba = lambda q: skm.balanced_accuracy_score(y[rows], (q[rows] >= 0.5).astype(int))
    drop = a["drop"]["balanced_accuracy"]
    assert drop["absolute"]["value"] == pytest.approx(ba(P["clean"]) - ba(P["flip@1"]))
    assert drop["relative"]["value"] == pytest.approx(
        (ba(P["clean"]) - ba(P["flip@1"])) / ba(P["clean"]))
    lo, hi = drop["absolute"]["ci"]
    assert lo <= drop["absolute"]["value"] <= hi
    # heavy noise: the paired interval of the drop excludes 0
    noisy = res["groupings"]["tone"]["robustness"]["noise@4"]["overall"]["drop"]
    assert noisy["balanced_accuracy"]["absolute"]["ci"][0] > 0.1
    assert noisy["roc_auc"]["absolute"]["ci"][0] > 0.1


def test_unaffected_variant_has_zero_drop_and_flat_curve(run):
    _, _, _, res = run
    tone = res["groupings"]["tone"]
    rob = tone["robustness"]["shift@2"]["overall"]
    assert rob["counts"]["flips"] == 0
    assert rob["drop"]["balanced_accuracy"]["absolute"] == {
        "value": 0.0, "ci": [0.0, 0.0], "n": N, "ci_method": "bootstrap", "reason": None}
    curve = tone["severity_curves"]["shift"]
    assert curve["severities"] == [0, 1, 2, 3]
    clean_ba = tone["variants"]["clean"]["overall"]["metrics"]["balanced_accuracy"]["value"]
    assert curve["overall"]["balanced_accuracy"] == pytest.approx([clean_ba] * 4)
    assert curve["overall"]["area"]["balanced_accuracy"]["value"] == pytest.approx(clean_ba)


def test_severity_area_is_normalised_trapezoid(run):
    _, _, _, res = run
    tone = res["groupings"]["tone"]
    curve = tone["severity_curves"]["noise"]
    assert curve["severities"] == [0, 1, 2, 4]
    for cell in [curve["overall"], *curve["groups"].values()]:
        vals = cell["roc_auc"]
        want = np.trapezoid(vals, [0, 1, 2, 4]) / 4
        assert cell["area"]["roc_auc"]["value"] == pytest.approx(want)
        assert vals[0] > vals[-1]                            # noise hurts
        lo, hi = cell["area"]["roc_auc"]["ci"]
        assert lo <= want <= hi
    assert tone["variants"]["noise@2"]["overall"]["metrics"]["roc_auc"]["value"] == \
        pytest.approx(curve["overall"]["roc_auc"][2])
    assert res["families"] == {"flip": [1], "shift": [1, 2, 3], "noise": [1, 2, 4]}


def test_corruption_error_against_reference(run):
    y, P, g, res = run
    tone = res["groupings"]["tone"]
    assert tone["corruption_error"] == {"status": "skipped", "reason": "no reference run given"}
    # against itself: every family's CE is exactly 1
    again = audit_metrics(y_true=y, p=P, groups={"tone": g}, threshold=0.5, n_boot=50,
                          reference=res)
    ce = again["groupings"]["tone"]["corruption_error"]
    assert ce["status"] == "ok"
    assert ce["overall"]["ce"]["noise"] == pytest.approx(1.0)
    assert ce["overall"]["relative_ce"]["noise"] == pytest.approx(1.0)
    # a candidate whose noise variants are the clean scores: err_s = err_clean at every severity
    better = dict(P, **{k: P["clean"] for k in P if k.startswith("noise@")})
    cand = audit_metrics(y_true=y, p=better, groups={"tone": g}, threshold=0.5, n_boot=50,
                         reference=res)
    c = cand["groupings"]["tone"]["corruption_error"]["overall"]
    ref_ba = [tone["variants"][f"noise@{s}"]["overall"]["metrics"]["balanced_accuracy"]["value"]
              for s in (1, 2, 4)]
    clean_err = 1 - tone["variants"]["clean"]["overall"]["metrics"]["balanced_accuracy"]["value"]
    assert c["ce"]["noise"] == pytest.approx(3 * clean_err / sum(1 - b for b in ref_ba))
    assert c["relative_ce"]["noise"] == pytest.approx(0.0)
    assert c["mce"] == pytest.approx(np.mean([c["ce"][f] for f in ("flip", "shift", "noise")]))


def test_mean_flip_rate_known_answer_and_against_a_reference(run):
    y, P, g, res = run
    tone = res["groupings"]["tone"]
    mfr = tone["mean_flip_rate"]
    assert mfr["status"] == "ok" and mfr["overall"]["relative_mfr"] is None
    o = mfr["overall"]
    assert o["fr"]["flip"] == pytest.approx(8 / 200)           # 8 flips, all in group a
    assert mfr["groups"]["a"]["fr"]["flip"] == pytest.approx(8 / 120)
    assert o["fr"]["shift"] == 0.0                               # crosses nothing
    noise = [np.mean((P[f"noise@{s}"] >= 0.5) != (P["clean"] >= 0.5)) for s in (1, 2, 4)]
    assert o["fr"]["noise"] == pytest.approx(np.mean(noise))
    assert o["mfr"] == pytest.approx((8 / 200 + 0.0 + np.mean(noise)) / 3)
    # a candidate whose noise flips half as often as the reference's, relative to that reference
    half = dict(P)
    for s in (1, 2, 4):
        q = P[f"noise@{s}"].copy()
        changed = np.flatnonzero((q >= 0.5) != (P["clean"] >= 0.5))
        q[changed[::2]] = P["clean"][changed[::2]]                # undo every other flip
        half[f"noise@{s}"] = q
    kept = [len(np.flatnonzero((P[f"noise@{s}"] >= 0.5) != (P["clean"] >= 0.5))[1::2]) for s in (1, 2, 4)]
    cand = audit_metrics(y_true=y, p=half, groups={"tone": g}, threshold=0.5, n_boot=50, reference=res)
    c = cand["groupings"]["tone"]["mean_flip_rate"]["overall"]
    assert c["relative_fr"]["noise"] == pytest.approx(sum(kept) / (200 * sum(noise)))
    assert c["relative_fr"]["flip"] == pytest.approx(1.0)
    assert c["relative_fr"]["shift"] is None                     # the reference never flips
    assert c["relative_mfr"] == pytest.approx((1.0 + c["relative_fr"]["noise"]) / 2)


def test_split_variant():
    assert split_variant("blur@3") == ("blur", 3)
    assert split_variant("brightness_down@1") == ("brightness_down", 1)
    assert split_variant("jpeg@0.5") == ("jpeg", 0.5)
    assert split_variant("clean") is None and split_variant("blur@x") is None


def test_full_confusion_matrix_for_k_classes():
    rng = np.random.default_rng(0)
    names = ["atopic_dermatitis", "eczema", "psoriasis"]
    t = rng.integers(0, 3, 150)
    pr = np.where(rng.random(150) < 0.7, t, rng.integers(0, 3, 150))
    g = np.where(np.arange(150) < 90, "a", "b")
    res = audit_metrics(y_true=(t == 1).astype(int), p={"clean": (pr == 1) * 0.8 + 0.1},
                        groups={"tone": g}, threshold=0.5, n_boot=20,
                        y_true_class=t, y_pred_class=pr, class_names=names)
    full = res["groupings"]["tone"]["confusion_matrix_full"]
    assert full["class_names"] == names
    assert full["overall"] == skm.confusion_matrix(t, pr, labels=[0, 1, 2]).tolist()
    assert full["groups"]["b"] == skm.confusion_matrix(t[90:], pr[90:], labels=[0, 1, 2]).tolist()


def test_awkward_names_group_called_overall_and_float_severities():
    y, p, g = base()
    g = np.where(g == "a", "overall", "b")        # a group may be called "overall"
    P = {"clean": p, "blur@1.0": p, "blur@2.5": np.clip(p * 0.8, 0, 1)}
    res = audit_metrics(y_true=y, p=P, groups={"tone": g}, threshold=0.5, n_boot=30)
    tone = res["groupings"]["tone"]
    assert tone["variants"]["clean"]["overall"]["n"] == N
    assert tone["variants"]["clean"]["groups"]["overall"]["n"] == 120
    assert tone["severity_curves"]["blur"]["severities"] == [0, 1, 2.5]
    assert tone["robustness"]["blur@2.5"]["groups"]["overall"]["n"] == 120
