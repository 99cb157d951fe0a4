"""K-class metric kernels and their intervals.

The kernels equal scikit-learn's metrics on a resample drawn as counts; nominal 95% intervals of
the K-class metrics cover known population values about 95% of the time (400 seeded simulations,
the audit's own stratified resampler, B = 1000), and ``kclass_audit_metrics`` returns exactly the
simulated interval.
"""
from __future__ import annotations

import numpy as np
import pytest
from sklearn import metrics as skm

from harness.errors import UserError
from harness.metrics import bootstrap_indices, counts_from_indices, percentile_interval
from harness.metrics.kclass_audit import kclass_audit_metrics
from harness.metrics.multiclass import kclass_from_sums, kclass_metrics

K = 3
#: group -> row-stochastic confusion probabilities (true class -> predicted class)
TRUTH = {"light": np.array([[0.80, 0.15, 0.05], [0.10, 0.75, 0.15], [0.05, 0.15, 0.80]]),
         "dark": np.array([[0.60, 0.25, 0.15], [0.15, 0.70, 0.15], [0.10, 0.20, 0.70]])}
N_CLASS = 100          # images of each class per group
N_SIMS = 400
B = 1000


def _probabilities(rng, pred: np.ndarray, k: int) -> np.ndarray:
    """Probability rows whose top class is ``pred``."""
    p = rng.dirichlet(np.ones(k), size=pred.size) * 0.5
    p[np.arange(pred.size), pred] += 0.5 + 1e-3
    return p / p.sum(axis=1, keepdims=True)


def simulate(sim: int):
    rng = np.random.default_rng(20_000 + sim)
    ys, ps, gs = [], [], []
    for g, conf in TRUTH.items():
        y = np.repeat(np.arange(K), N_CLASS)
        pred = (rng.random(y.size)[:, None] > np.cumsum(conf, axis=1)[y]).sum(axis=1)
        ys.append(y), ps.append(_probabilities(rng, pred, K)), gs.append(np.full(y.size, g))
    return np.concatenate(ys), np.concatenate(ps), np.concatenate(gs)


def _truth(conf: np.ndarray) -> dict:
    tp = np.diag(conf) * N_CLASS
    predicted = conf.sum(axis=0) * N_CLASS
    f1 = 2 * tp / (N_CLASS + predicted)
    return {"balanced_accuracy": np.diag(conf).mean(), "macro_f1": f1.mean(),
            "recall": np.diag(conf)}


def replicate_metrics(y, P, g, seed):
    """{group: kclass_from_sums output over B+1 replicates}; row 0 is the point estimate. The
    confusion counts of each replicate are counted here from the resampled rows."""
    idx = np.vstack([np.arange(y.size), bootstrap_indices(g, y, n_boot=B, seed=seed)])
    code = (y * K + P.argmax(axis=1))[idx]                 # slot j keeps j's stratum
    out = {}
    for name in TRUTH:
        c = code[:, g == name]
        flat = (c + (np.arange(c.shape[0]) * K * K)[:, None]).ravel()
        sums = np.zeros((c.shape[0], K * K + 2 + 10))
        sums[:, :K * K] = np.bincount(flat, minlength=c.shape[0] * K * K).reshape(-1, K * K)
        out[name] = kclass_from_sums(sums, k=K)
    return out


def test_kernels_equal_scikit_learn_on_a_resample():
    rng = np.random.default_rng(3)
    y = rng.integers(0, 4, 150)
    logits = rng.normal(size=(150, 4))
    logits[np.arange(150), y] += 1.0
    P = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    draw = rng.integers(0, 150, size=(2, 150))
    counts = counts_from_indices(draw, 150)
    got = kclass_metrics(y, P, weights=counts)
    for b in range(2):
        yt, Pt = y[draw[b]], P[draw[b]]
        pred = Pt.argmax(axis=1)
        assert got["confusion"][b].tolist() == skm.confusion_matrix(yt, pred).tolist()
        for name, ref in [
            ("accuracy", skm.accuracy_score(yt, pred)),
            ("balanced_accuracy", skm.balanced_accuracy_score(yt, pred)),
            ("macro_f1", skm.f1_score(yt, pred, average="macro")),
            ("weighted_f1", skm.f1_score(yt, pred, average="weighted")),
            ("top_k_accuracy", skm.top_k_accuracy_score(yt, Pt, k=3)),
            ("roc_auc", skm.roc_auc_score(yt, Pt, multi_class="ovr", average="macro")),
            ("multiclass_brier", np.mean(((Pt - np.eye(4)[yt]) ** 2).sum(axis=1))),
        ]:
            assert got[name][b] == pytest.approx(ref, abs=1e-12), name
        np.testing.assert_allclose(got["recall"][b], skm.recall_score(yt, pred, average=None))
        np.testing.assert_allclose(got["precision"][b],
                                   skm.precision_score(yt, pred, average=None))
        conf, hit = Pt.max(axis=1), pred == yt
        bins = np.minimum((conf * 10).astype(int), 9)
        ece = sum(abs(hit[bins == k].sum() - conf[bins == k].sum()) for k in range(10)) / 150
        assert got["top_label_ece"][b] == pytest.approx(ece, abs=1e-12)


def test_nominal_95_intervals_cover_known_k_class_metrics():
    truth = {g: _truth(c) for g, c in TRUTH.items()}
    hits: dict[str, list] = {"balanced_accuracy": [], "macro_f1": [], "recall": [],
                             "balanced_accuracy_gap": []}
    for sim in range(N_SIMS):
        y, P, g = simulate(sim)
        r = replicate_metrics(y, P, g, seed=sim)
        for name in TRUTH:
            for key in ("balanced_accuracy", "macro_f1", "recall"):
                lo, hi, n_undef = percentile_interval(r[name][key][1:])
                assert not np.any(n_undef)
                hits[key] += list(np.atleast_1d((lo <= truth[name][key]) & (truth[name][key] <= hi)))
        gap = r["light"]["balanced_accuracy"] - r["dark"]["balanced_accuracy"]
        lo, hi, _ = percentile_interval(gap[1:])
        true_gap = truth["light"]["balanced_accuracy"] - truth["dark"]["balanced_accuracy"]
        hits["balanced_accuracy_gap"].append(lo <= true_gap <= hi)
    coverage = {k: float(np.mean(v)) for k, v in hits.items()}
    for c in coverage.values():
        assert 0.93 <= c <= 0.97, coverage


def test_audit_interval_is_the_simulated_interval():
    for sim in range(2):
        y, P, g = simulate(sim)
        r = replicate_metrics(y, P, g, seed=sim)
        res = kclass_audit_metrics(y_true=y, probs={"clean": P}, class_names=["a", "b", "c"],
                                   groups={"tone": g}, n_boot=B, seed=sim)
        tone = res["groupings"]["tone"]["variants"]["clean"]
        for name in TRUTH:
            cell = tone["groups"][name]
            for key in ("balanced_accuracy", "macro_f1"):
                lo, hi, _ = percentile_interval(r[name][key][1:])
                assert cell["metrics"][key]["value"] == pytest.approx(r[name][key][0], abs=1e-12)
                assert cell["metrics"][key]["ci"] == pytest.approx([float(lo), float(hi)],
                                                                   abs=1e-12)
            lo, hi, _ = percentile_interval(r[name]["recall"][1:, 1])
            assert cell["classes"]["b"]["recall"]["ci"] == pytest.approx([float(lo), float(hi)],
                                                                         abs=1e-12)
            assert cell["classes"]["b"]["recall"]["ci_method"] == "bootstrap"
        d = r["light"]["balanced_accuracy"] - r["dark"]["balanced_accuracy"]
        fvl = tone["gaps"]["metrics"]["balanced_accuracy"]["first_vs_last"]
        assert (fvl["first"], fvl["last"]) == ("dark", "light")
        lo, hi, _ = percentile_interval(-d[1:])
        assert fvl["difference"]["ci"] == pytest.approx([float(lo), float(hi)], abs=1e-12)
        assert set(tone["gaps"]["classes"]) == {"a", "b", "c"}


def test_small_classes_say_so_and_small_proportions_use_wilson():
    rng = np.random.default_rng(1)
    y = np.r_[np.zeros(6, int), np.ones(40, int), np.full(40, 2)]
    P = _probabilities(rng, np.where(rng.random(y.size) < 0.7, y, (y + 1) % 3), 3)
    res = kclass_audit_metrics(y_true=np.array(["a", "b", "c"])[y], probs={"clean": P},
                               class_names=["a", "b", "c"], groups={}, n_boot=100)
    cell = res["groupings"]["all"]["variants"]["clean"]["overall"]
    assert cell["status"] == "insufficient"
    assert cell["reason"] == ("too few to judge: 6 a (the rule: at least 30 images and 10 of "
                              "each class)")
    a = cell["classes"]["a"]
    assert a["status"] == "insufficient" and a["support"] == 6
    assert a["reason"] == "too few to judge: 6 a (the rule: at least 10 of the class)"
    assert a["recall"]["ci_method"] == "wilson" and a["recall"]["n"] == 6
    assert cell["classes"]["b"]["status"] == "ok"
    assert "top_k_accuracy" not in cell["metrics"]          # K = 3: top-3 accuracy is 1
    assert res["groupings"]["all"]["variants"]["clean"]["gaps"]["status"] == "insufficient"


def test_labels_outside_the_class_names_are_refused():
    with pytest.raises(UserError, match=r"labels \['d'\] are not among the model's class names"):
        kclass_audit_metrics(y_true=np.array(["a", "d"]), probs={"clean": np.full((2, 3), 1 / 3)},
                             class_names=["a", "b", "c"], groups={}, n_boot=10)
