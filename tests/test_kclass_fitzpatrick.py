"""Must show 2: a 3-class model audited as three classes, grouped by Fitzpatrick label.

Frozen MobileNetV2 features and a softmax head for Fitzpatrick17k's ``three_partition_label``
(the ``three_class_fitzpatrick`` fixture), audited without ``--positive-class``: the confusion
matrices, balanced accuracy, macro-F1 and per-class recall in ``results.json`` equal
scikit-learn's on ``samples.csv``, per Fitzpatrick group and overall, to 1e-9; flips are changes
of the top class. (The intervals' coverage is simulated in ``test_kclass_metrics.py``.)
"""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from sklearn import metrics as skm

from harness.results.io import group_label


@pytest.mark.slow
def test_three_class_audit_equals_scikit_learn_on_samples(three_class_fitzpatrick, three_class_run):
    names = three_class_fitzpatrick["class_names"]
    results = json.loads((three_class_run / "results.json").read_text())
    samples = pd.read_csv(three_class_run / "samples.csv", keep_default_na=False, na_values=[""])
    assert results["model"]["positive_class"] is None and results["model"]["kclass"] is True
    metrics = results["metrics"]
    assert metrics["audit"] == "kclass" and metrics["class_names"] == names

    # samples.csv: the top class, its probability, one probability column per class
    probs = samples[[f"p:{c}" for c in names]].to_numpy()
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, atol=1e-6)
    assert (samples["pred"] == np.asarray(names)[probs.argmax(axis=1)]).all()
    np.testing.assert_allclose(samples["p"], probs.max(axis=1), atol=1e-9)
    assert set(samples["pred"]) == set(names)             # the head predicts every class

    fitz = np.array([group_label(x) for x in samples["fitzpatrick"]])
    gr = metrics["groupings"]["fitzpatrick"]
    assert gr["groups"] == sorted(set(fitz), key=int)
    clean = gr["variants"]["clean"]
    cells = [("overall", clean["overall"], np.ones(len(samples), bool))]
    cells += [(g, clean["groups"][g], fitz == g) for g in gr["groups"]]
    for name, cell, rows in cells:
        y, pred = samples["label"][rows], samples["pred"][rows]
        assert cell["confusion_matrix"] == skm.confusion_matrix(y, pred, labels=names).tolist()
        m = cell["metrics"]
        assert m["balanced_accuracy"]["value"] == pytest.approx(
            skm.balanced_accuracy_score(y, pred), abs=1e-9), name
        assert m["macro_f1"]["value"] == pytest.approx(
            skm.f1_score(y, pred, average="macro"), abs=1e-9), name
        assert m["accuracy"]["value"] == pytest.approx(skm.accuracy_score(y, pred), abs=1e-9)
        recall = skm.recall_score(y, pred, labels=names, average=None, zero_division=np.nan)
        for c, r in zip(names, recall):
            got = cell["classes"][c]["recall"]
            assert got["n"] == int((y == c).sum())
            if np.isnan(r):                                  # no image of the class here
                assert got["value"] is None and got["reason"] == "no images of the class"
                continue
            assert got["value"] == pytest.approx(r, abs=1e-9), (name, c)
            lo, hi = got["ci"]
            assert lo <= got["value"] <= hi
        for key in ("balanced_accuracy", "macro_f1", "roc_auc"):
            lo, hi = m[key]["ci"]
            assert lo <= m[key]["value"] <= hi and m[key]["n"] == int(rows.sum())
        # a class with fewer than 10 images in the cell says so instead of standing as judged
        for c in names:
            small = int((y == c).sum()) < 10
            assert (cell["classes"][c]["status"] == "insufficient") == small
            assert (f" {c}" in (cell["reason"] or "")) == small

    # robustness: a flip is a change of the top class
    flips = samples["pred[blur@1]"] != samples["pred"]
    assert (samples["flip[blur@1]"] == flips).all()
    rob = gr["robustness"]["blur@1"]["overall"]
    assert rob["counts"]["flips"] == int(flips.sum())
    assert rob["flip_rate"]["value"] == pytest.approx(flips.mean(), abs=1e-12)
    assert rob["mean_abs_delta_p"]["value"] > 0           # of the true class's probability
    y, before, after = samples["label"], samples["pred"], samples["pred[blur@1]"]
    drop = (skm.recall_score(y, before, labels=names, average=None, zero_division=np.nan)
            - skm.recall_score(y, after, labels=names, average=None, zero_division=np.nan))
    for c, d in zip(names, drop):
        assert rob["class_drop"][c]["recall"]["absolute"]["value"] == pytest.approx(d, abs=1e-9)
