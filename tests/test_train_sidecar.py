"""The sidecar a trained model carries: every field, plain JSON, readable by harness.models.sidecar."""
from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from harness.models.sidecar import read_sidecar
from harness.train.validation import THRESHOLDS

from train_helpers import synthetic_root, trained


def _walk(value, path="$"):
    """Yield (path, leaf) for every leaf of a JSON-like structure."""
    if isinstance(value, dict):
        for k, v in value.items():
            assert isinstance(k, str), f"{path}: non-string key {k!r}"
            yield from _walk(v, f"{path}.{k}")
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from _walk(v, f"{path}[{i}]")
    else:
        yield path, value


@pytest.mark.parametrize("recipe", [
    "baseline",
    # fine-tuning traces a training step through the backbone for every fold: ~30 s
    pytest.param("finetune", marks=pytest.mark.slow),
])
def test_sidecar_has_every_field(recipe):
    finetune = recipe == "finetune"
    folds = 2 if finetune else 3
    summary, _ = trained(recipe, epochs=1 if finetune else None, folds=folds)
    sidecar = Path(summary["sidecar"])
    assert sidecar == Path(summary["model"]).with_suffix(".json")
    spec = json.loads(sidecar.read_text())

    assert spec["class_names"] == ["atopic_dermatitis", "eczema"]
    assert spec["positive_class"] == "eczema"
    assert spec["preprocessing"] == "none"
    assert spec["input_size"] == [64, 64]
    assert spec["recipe"] == recipe
    assert spec["seed"] == 0
    assert spec["threshold"] in THRESHOLDS
    assert spec["backbone"]["source"] == "random" and spec["backbone"]["sha256"] is None

    # the fingerprint is the one harness.data.load gives the training images, not the test images
    from harness.data.load import load_dataset

    root = synthetic_root()
    train = load_dataset(root / "train", size=(64, 64))
    test = load_dataset(root / "test", size=(64, 64))
    assert spec["data_fingerprint"] == train.fingerprint != test.fingerprint
    assert spec["training"]["n_images"] == len(train) == 48
    assert spec["training"]["class_counts"] == train.class_counts()

    val = spec["validation"]
    assert val["n"] == 48 and val["folds"] == folds
    assert val["n_positive"] + val["n_negative"] == 48
    assert val["threshold"] == spec["threshold"]
    for key in ("auc", "accuracy", "macro_f1", "sensitivity", "specificity"):
        assert isinstance(val[key], float) and 0.0 <= val[key] <= 1.0, key
    assert [r["threshold"] for r in val["sweep"]] == list(THRESHOLDS)
    best = max(r["macro_f1"] for r in val["sweep"])
    assert math.isclose(val["macro_f1"], best, abs_tol=1e-12)
    assert sum(f["n_held_out"] for f in val["per_fold"]) == 48
    if recipe == "finetune":
        final = spec["training"]["final_model"]
        assert final["n_fit"] + final["n_early_stopping"] == 48
        assert final["n_early_stopping"] == pytest.approx(0.2 * 48, abs=1)
        assert 0 <= final["best_epoch"] <= final["epochs_run"] == 1
        assert spec["epochs"] == 1
    else:
        assert spec["epochs"] == 10

    # plain JSON: no numpy scalars, no NaN
    for where, leaf in _walk(spec):
        assert leaf is None or type(leaf) in (str, int, float, bool), (where, type(leaf))
        if isinstance(leaf, float):
            assert math.isfinite(leaf), where

    # what harness run reads
    fields = read_sidecar(sidecar)
    assert fields["threshold"] == spec["threshold"]
    assert fields["input_size"] == (64, 64)
    assert fields["extra"]["recipe"] == recipe


def test_summary_is_the_sidecar_plus_paths_and_timings():
    summary, _ = trained("baseline")
    spec = json.loads(Path(summary["sidecar"]).read_text())
    rest = {k: v for k, v in summary.items() if k not in ("model", "sidecar", "timings")}
    assert rest == spec
    assert set(summary["timings"]) >= {"load", "features", "cross_validation", "final_fit",
                                       "total"}
    assert "timings" not in spec  # the sidecar is deterministic
