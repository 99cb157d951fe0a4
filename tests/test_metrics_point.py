"""Every point metric of the metrics section equals scikit-learn / fairlearn computed independently.

A fixed predictions table (deterministic, with a group too small to judge, a variant under which a
group predicts no positive, missing Fitzpatrick labels) is audited in memory and after a round
trip through a samples.csv-like file; every cell of every grouping and variant is recomputed here
from the table with scikit-learn and compared to 1e-9.
"""
from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest
from sklearn import metrics as skm

from harness.errors import UserError
from harness.metrics import METRICS, audit_metrics, binary_metrics, metric_frame, weighted_auc
from harness.metrics.bootstrap import bootstrap_indices, counts_from_indices
from harness.metrics.frame import frame_values

POSITIVE = "eczema"
THRESHOLD = 0.5
TOL = 1e-9


def make_samples(seed: int = 7) -> pd.DataFrame:
    """A samples.csv-like table: 3 judged skin-tone groups + one tiny group, 5 variants."""
    rng = np.random.default_rng(seed)
    sizes = {"light": 110, "medium": 90, "dark": 80, "tiny": 12}
    rows = []
    for g, n in sizes.items():
        sep = {"light": 2.0, "medium": 1.5, "dark": 0.8, "tiny": 1.0}[g]
        y = rng.random(n) < 0.45
        logit = np.where(y, sep, -sep) + rng.normal(0, 1.0, n)
        p = 1 / (1 + np.exp(-logit))
        p = np.round(p, 3)                      # ties for AUC and the ECE bin edges
        for i in range(n):
            label = POSITIVE if y[i] else "atopic_dermatitis"
            rows.append({"file": f"{g}/{i:03d}.jpg", "label": label, "p": p[i], "group": g})
    df = pd.DataFrame(rows)
    n = len(df)
    fitz = rng.integers(1, 7, n).astype(float)
    fitz[rng.random(n) < 0.1] = np.nan          # unknown Fitzpatrick for ~10% of images
    df["fitzpatrick_est"] = pd.array(fitz).astype("Int64")
    df["pred"] = np.where(df["p"] >= THRESHOLD, POSITIVE, "atopic_dermatitis")
    base = df["p"].to_numpy()
    for s in (1, 2):
        df[f"p[blur@{s}]"] = np.clip(base + rng.normal(0, 0.08 * s, n), 0, 1)
    df["p[redness@1]"] = np.clip(base * 0.9 + 0.08, 0, 1)
    dark = (df["group"] == "dark").to_numpy()
    # Under this variant the dark group never gets a positive prediction: precision undefined.
    df["p[brightness_down@5]"] = np.where(dark, base * 0.3, base)
    return df


def inputs_from(df: pd.DataFrame) -> dict:
    p = {"clean": df["p"].to_numpy(dtype=float)}
    for col in df.columns:
        if col.startswith("p["):
            p[col[2:-1]] = df[col].to_numpy(dtype=float)
    fitz = df["fitzpatrick_est"]
    return {
        "y_true": (df["label"] == POSITIVE).to_numpy().astype(int),
        "p": p,
        "groups": {"group": df["group"].astype(str).to_numpy(),
                   "fitzpatrick": np.array([None if pd.isna(v) else str(int(v)) for v in fitz],
                                           dtype=object)},
    }


def sklearn_metrics(y: np.ndarray, p: np.ndarray) -> dict:
    """The reference: scikit-learn functions on the cell's rows (ECE by an explicit loop)."""
    pred = (p >= THRESHOLD).astype(int)
    one_class = y.min() == y.max()
    ece = 0.0
    for k in range(10):
        lo, hi = k / 10, (k + 1) / 10
        in_bin = (p >= lo) & ((p < hi) if k < 9 else (p <= hi))
        if in_bin.any():
            ece += in_bin.sum() / len(y) * abs(y[in_bin].mean() - p[in_bin].mean())
    f1 = skm.f1_score(y, pred, zero_division=np.nan)
    f1n = skm.f1_score(y, pred, pos_label=0, zero_division=np.nan)
    return {
        "accuracy": skm.accuracy_score(y, pred),
        "balanced_accuracy": np.nan if one_class else skm.balanced_accuracy_score(y, pred),
        "sensitivity": skm.recall_score(y, pred, zero_division=np.nan),
        "specificity": skm.recall_score(y, pred, pos_label=0, zero_division=np.nan),
        "precision": skm.precision_score(y, pred, zero_division=np.nan),
        "npv": skm.precision_score(y, pred, pos_label=0, zero_division=np.nan),
        "f1": f1,
        "f1_negative": f1n,
        "macro_f1": (f1 + f1n) / 2,
        "roc_auc": np.nan if one_class else skm.roc_auc_score(y, p),
        "brier": skm.brier_score_loss(y, p),
        "ece": ece,
        "confusion_matrix": skm.confusion_matrix(y, pred, labels=[0, 1]).tolist(),
    }


@pytest.fixture(scope="module")
def samples() -> pd.DataFrame:
    return make_samples()


@pytest.fixture(scope="module", params=["memory", "csv"])
def audited(request, samples, tmp_path_factory):
    df = samples
    if request.param == "csv":
        path = tmp_path_factory.mktemp("run") / "samples.csv"
        samples.to_csv(path, index=False)
        df = pd.read_csv(path)
    inputs = inputs_from(df)
    res = audit_metrics(**inputs, threshold=THRESHOLD, n_boot=200, seed=3)
    return df, inputs, res


def _cells(grouping: dict, variant: str):
    v = grouping["variants"][variant]
    yield "overall", v["overall"]
    yield from v["groups"].items()


def test_every_point_metric_equals_sklearn(audited):
    df, inputs, res = audited
    y = inputs["y_true"]
    checked = 0
    for gname, labels in inputs["groups"].items():
        labels = np.array(["unknown" if v is None else v for v in labels])
        grouping = res["groupings"][gname]
        for variant, p in inputs["p"].items():
            for cell, c in _cells(grouping, variant):
                rows = np.ones(len(y), bool) if cell == "overall" else labels == cell
                ref = sklearn_metrics(y[rows], p[rows])
                assert c["n"] == rows.sum()
                assert c["positives"] == y[rows].sum()
                assert c["confusion_matrix"] == ref["confusion_matrix"]
                # a cell too small to judge carries the same estimates, marked by its status
                for m in METRICS:
                    got = c["metrics"][m]["value"]
                    if math.isnan(ref[m]):
                        assert got is None and c["metrics"][m]["reason"], (gname, variant, cell, m)
                    else:
                        assert got == pytest.approx(ref[m], abs=TOL), (gname, variant, cell, m)
                    checked += 1
    assert checked > 500


def test_insufficient_and_undefined_are_explicit(audited):
    _, _, res = audited
    g = res["groupings"]["group"]
    tiny = g["variants"]["clean"]["groups"]["tiny"]
    assert tiny["status"] == "insufficient" and tiny["n"] == 12
    assert tiny["reason"].startswith("too few to judge: 12 images")
    assert tiny["reason"].endswith("(the rule: at least 30 images and 10 of each class)")
    assert set(tiny["metrics"]) == set(METRICS)   # estimated, with intervals, but not judged
    assert "tiny" not in g["gap_groups"]
    dark = g["variants"]["brightness_down@5"]["groups"]["dark"]["metrics"]
    assert dark["precision"]["value"] is None
    assert dark["precision"]["reason"] == "no predicted positives"
    assert dark["precision"]["n"] == 0
    assert dark["f1"]["value"] == 0.0          # positives exist, none predicted: F1 is 0, defined
    assert "unknown" in res["groupings"]["fitzpatrick"]["groups"]


def test_metric_frame_equals_vectorised_engine(samples):
    """fairlearn's MetricFrame and the replicate engine (unit weights) agree on every variant."""
    inputs = inputs_from(samples)
    y, groups = inputs["y_true"], inputs["groups"]["group"]
    for variant, p in inputs["p"].items():
        overall, by_group = frame_values(metric_frame(y_true=y, p=p, groups=groups,
                                                      threshold=THRESHOLD))
        for cell, vals in [("overall", overall), *by_group.items()]:
            rows = np.ones(len(y), bool) if cell == "overall" else groups == cell
            engine = binary_metrics(y[rows], p[rows], threshold=THRESHOLD)
            for m in METRICS:
                a, b = vals[m], float(engine[m][0])
                assert (math.isnan(a) and math.isnan(b)) or abs(a - b) < TOL, (variant, cell, m)


def test_replicate_metrics_equal_sklearn_on_materialised_resamples(samples):
    """A bootstrap replicate computed from draw counts equals sklearn on the resampled rows."""
    inputs = inputs_from(samples)
    y, p, g = inputs["y_true"], inputs["p"]["blur@2"], inputs["groups"]["group"]
    idx = bootstrap_indices(g, y, n_boot=5, seed=11)
    w = counts_from_indices(idx, len(y))
    reps = binary_metrics(y, p, threshold=THRESHOLD, weights=w)
    for b in range(5):
        ref = sklearn_metrics(y[idx[b]], p[idx[b]])
        for m in METRICS:
            assert reps[m][b] == pytest.approx(ref[m], abs=TOL), (b, m)
        # the same replicate weights give sklearn's weighted AUC
        assert weighted_auc(y, p, w[b])[0] == pytest.approx(
            skm.roc_auc_score(y, p, sample_weight=w[b]), abs=TOL)


def test_json_ready_and_deterministic(samples):
    inputs = inputs_from(samples)
    a = audit_metrics(**inputs, threshold=THRESHOLD, n_boot=100, seed=5)
    b = audit_metrics(**inputs, threshold=THRESHOLD, n_boot=100, seed=5)
    text = json.dumps(a, allow_nan=False, sort_keys=True)
    assert text == json.dumps(b, allow_nan=False, sort_keys=True)
    c = audit_metrics(**inputs, threshold=THRESHOLD, n_boot=100, seed=6)
    assert json.dumps(c, sort_keys=True) != text   # the seed drives the intervals

    def walk(x):
        if isinstance(x, dict):
            assert all(isinstance(k, str) for k in x)
            for v in x.values():
                walk(v)
        elif isinstance(x, list):
            for v in x:
                walk(v)
        else:
            assert x is None or type(x) in (str, int, float, bool), type(x)
    walk(a)


def test_bad_inputs_raise_clear_errors(samples):
    inputs = inputs_from(samples)
    bad = dict(inputs["p"], **{"blur@9": np.full(len(samples), np.nan)})
    with pytest.raises(UserError, match=r"p\[blur@9\]: 292 probabilities are NaN"):
        audit_metrics(y_true=inputs["y_true"], p=bad, groups=inputs["groups"], threshold=0.5)
    with pytest.raises(UserError, match="threshold: must be in"):
        audit_metrics(**inputs, threshold=1.5)
    with pytest.raises(ValueError, match="include 'clean'"):
        audit_metrics(y_true=inputs["y_true"], p={"blur@1": inputs["p"]["blur@1"]},
                      groups=inputs["groups"], threshold=0.5)
    with pytest.raises(UserError, match=r"metrics.n_boot: must be an integer >= 1 \(got 0\)"):
        audit_metrics(**inputs, threshold=0.5, n_boot=0)
