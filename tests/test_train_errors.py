"""Errors a user can cause: one line naming the option or file, and what to do."""
from __future__ import annotations


import pytest

from harness.train.backbone import resolve_backbone_weights
from harness.errors import UserError
from harness.train.run import train_model

from train_helpers import scratch, synthetic_root


def _one_line(exc: pytest.ExceptionInfo) -> str:
    text = str(exc.value)
    assert "\n" not in text
    return text


def test_missing_weights_file(tmp_path):
    with pytest.raises(UserError) as exc:
        train_model(data=synthetic_root(), out=tmp_path / "m.keras", recipe="baseline",
                    backbone_weights=str(tmp_path / "nope.weights.h5"), input_size=64)
    text = _one_line(exc)
    assert text.startswith("--backbone-weights:") and "nope.weights.h5" in text
    assert "'imagenet' or 'none'" in text
    assert not (tmp_path / "m.keras").exists()


def test_weights_file_that_is_not_weights(tmp_path):
    bad = tmp_path / "bad.weights.h5"
    bad.write_text("not an HDF5 file")
    with pytest.raises(UserError) as exc:
        train_model(data=synthetic_root(), out=tmp_path / "m.keras", recipe="baseline",
                    backbone_weights=str(bad), input_size=64, folds=3)
    text = _one_line(exc)
    assert text.startswith("--backbone-weights:") and "does not load into MobileNetV2" in text


def test_imagenet_unreachable_fails_cleanly_or_uses_a_fallback(tmp_path):
    url = (tmp_path / "absent" / "weights.h5").as_uri()  # no network needed to fail
    with pytest.raises(UserError) as exc:
        resolve_backbone_weights("imagenet", url=url)
    text = _one_line(exc)
    assert text.startswith("--backbone-weights imagenet: cannot download")
    assert "--backbone-weights PATH" in text and "none" in text

    local = tmp_path / "local.weights.h5"
    local.write_bytes(b"\x89HDF stand-in")
    got = resolve_backbone_weights("imagenet", url=url, fallbacks=[tmp_path / "x.h5", local])
    assert got.path == local and got.source == "file" and got.option == "imagenet"
    import hashlib

    assert got.sha256 == hashlib.sha256(local.read_bytes()).hexdigest()


@pytest.mark.parametrize("options, start", [
    ({"recipe": "bogus"}, "--recipe: unknown recipe 'bogus'"),
    ({"val_fraction": 1.5}, "--val-fraction:"),
    ({"epochs": 0}, "--epochs:"),
    ({"input_size": 16}, "--input-size:"),
    ({"folds": 1}, "--folds:"),
    ({"folds": 40}, None),  # more folds than images in the smaller class
    ({"positive_class": "psoriasis"}, "--positive-class:"),
])
def test_bad_options(options, start):
    kwargs = dict(data=synthetic_root(), out=scratch() / "bad" / "m.keras", recipe="baseline",
                  backbone_weights="none", input_size=64, folds=3)
    kwargs.update(options)
    with pytest.raises(UserError) as exc:
        train_model(**kwargs)
    text = _one_line(exc)
    if start is None:
        assert "--folds 40" in text and "fewer than" in text
    else:
        assert text.startswith(start)


def test_out_must_be_keras(tmp_path):
    with pytest.raises(UserError) as exc:
        train_model(data=synthetic_root(), out=tmp_path / "m.h5", recipe="baseline",
                    backbone_weights="none")
    assert _one_line(exc).startswith("--out:")


def test_needs_two_classes(tmp_path):
    import shutil

    root = synthetic_root()
    three = tmp_path / "three"
    shutil.copytree(root / "train", three, ignore=shutil.ignore_patterns("manifest.csv"))
    shutil.copytree(root / "train" / "eczema", three / "psoriasis")
    with pytest.raises(UserError) as exc:
        train_model(data=three, out=tmp_path / "m.keras", recipe="baseline",
                    backbone_weights="none", input_size=64, folds=3)
    text = _one_line(exc)
    assert text.startswith(str(three)) and "exactly two" in text
