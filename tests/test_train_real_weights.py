"""The one test with the real ImageNet backbone: a linear head learns the synthetic lesions.

Class 1 of the synthetic set has sharply bounded discoid plaques, class 0 one diffuse
lichenified patch; ImageNet features at 64 px separate them (random features do not). The
threshold and validation come from the training images only; the held-out synthetic ``test/``
is scored through ``harness.models.open.open_model`` as ``harness run`` would. A second run with the
same cache does no forward pass and writes the same sidecar.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

import harness.train.features
from harness.data.load import load_dataset
from harness.models.open import open_model
from harness.train.run import train_model
from harness.train.validation import decision_metrics

from train_helpers import scratch, synthetic_root

WEIGHTS_SHA256 = "6714965a05ee6d8568343664bb9cda7456c6eb1fa190a6f5eb39bf087068b100"


@pytest.mark.slow  # two trainings with the real backbone: ~30 s on 2 busy cores
def test_linear_head_learns_and_the_cache_skips_the_backbone(backbone_weights, monkeypatch):
    root = synthetic_root(160, 64, 64)
    cache = scratch() / "feature-cache"
    first = train_model(data=root, out=scratch() / "real" / "a.keras", recipe="linear-head",
                        backbone_weights=str(backbone_weights), input_size=64, folds=3,
                        cache=cache)
    assert first["backbone"]["sha256"] == WEIGHTS_SHA256
    assert first["backbone"]["source"] == "file"
    val = first["validation"]
    assert val["n"] == 160
    assert val["auc"] > 0.85 and val["macro_f1"] > 0.75

    model = open_model(first["model"])
    test = load_dataset(root / "test", size=(64, 64))
    y = (test.labels == model.spec.positive_class).astype(int)
    p = model.predict_proba(test.images)
    m = decision_metrics(y, p, threshold=model.spec.threshold)
    assert m["auc"] > 0.85 and m["accuracy"] > 0.75

    def no_forward(*args, **kwargs):
        raise AssertionError("the backbone ran although every feature was cached")

    monkeypatch.setattr(harness.train.features, "_extractor", no_forward)
    second = train_model(data=root, out=scratch() / "real" / "b.keras", recipe="linear-head",
                         backbone_weights=str(backbone_weights), input_size=64, folds=3,
                         cache=cache)
    assert Path(first["sidecar"]).read_bytes() == Path(second["sidecar"]).read_bytes()
    assert json.loads(Path(second["sidecar"]).read_text())["threshold"] == model.spec.threshold
    p2 = open_model(second["model"]).predict_proba(test.images)
    np.testing.assert_allclose(p2, p, rtol=0, atol=1e-6)
