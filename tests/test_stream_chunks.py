"""A streamed audit's results do not depend on how its images are cut into chunks, nor on the
number of workers: the same results.json (apart from timings and the engine's description), the
same samples.csv and the same thumbnails, for chunk sizes 7, 64 and the default, on real
photographs with unusable files among them, MobileNetV2 explained by Grad-CAM, and a K-class
model on arrays."""
from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import numpy as np
import pytest

import harness
from harness.pipeline.chunks import DEFAULT_CHUNK_SIZE


def _results(run: Path) -> dict:
    results = json.loads((run / "results.json").read_text())
    results.pop("timings")
    engine = results.pop("engine")
    assert engine["name"] == "local"
    return results


def _thumbs(run: Path) -> dict[str, str]:
    return {p.relative_to(run).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted((run / "thumbs").rglob("*.jpg"))}


@pytest.fixture(scope="module")
def photos(dermnet_test, tmp_path_factory) -> Path:
    """34 real DermNet NZ photographs in class folders, with a truncated JPEG and an empty file
    among them (skipped, and shifting every later image's position across chunk boundaries)."""
    root = tmp_path_factory.mktemp("stream") / "data"
    for label in ("atopic_dermatitis", "eczema"):
        (root / label).mkdir(parents=True)
        for f in sorted((dermnet_test / label).glob("*.jpg"))[:17]:
            shutil.copyfile(f, root / label / f.name)
    first = sorted((root / "eczema").glob("*.jpg"))[0]
    (root / "eczema" / "aaa-truncated.jpg").write_bytes(first.read_bytes()[:400])
    (root / "atopic_dermatitis" / "atopic-dermatitis-0010b.jpg").write_bytes(b"")
    return root


def _audit(model, data, out: Path, **kw):
    return harness.audit(model=model, data=data, out=out, cache=None, quiet=True, n_boot=50,
                         **kw)


def test_chunk_size_and_workers_do_not_change_what_is_found(photos, nested_mobilenet, tmp_path):
    # MobileNetV2 through TensorFlow gives the image in the last place of a padded batch other
    # bits than the same image elsewhere in it: the audit must put each image in the same place
    # whatever the chunk size (a chunk of 7 cuts the batches of 32 elsewhere).
    keras_model = nested_mobilenet
    options = dict(perturbations=["blur", "redness"], severities=[2], gradcam=6)
    runs = {}
    for name, extra in (("default", {"workers": 1}), ("seven", {"chunk_size": 7, "workers": 3})):
        _audit(str(keras_model), str(photos), tmp_path / name, **options, **extra)
        runs[name] = tmp_path / name
    base = _results(runs["default"])
    # the unusable files are skipped and named, the rest audited, Grad-CAM on every image
    skipped = {s["file"] for s in base["dataset"]["skipped"]}
    assert {"eczema/aaa-truncated.jpg", "atopic_dermatitis/atopic-dermatitis-0010b.jpg"} <= skipped
    assert base["dataset"]["n_images"] == 34
    assert base["gradcam"]["explainer"] == "gradcam" and base["gradcam"]["n_images"] == 6
    engines = {json.loads((r / "results.json").read_text())["engine"]["chunk_size"]
               for r in runs.values()}
    assert engines == {DEFAULT_CHUNK_SIZE, 7}
    for name in ("seven",):
        assert _results(runs[name]) == base, name
        assert (runs[name] / "samples.csv").read_bytes() == \
            (runs["default"] / "samples.csv").read_bytes(), name
        assert _thumbs(runs[name]) == _thumbs(runs["default"]), name
    assert len(_thumbs(runs["default"])) > 34 + 6  # clean images, strips, the Grad-CAM gallery


def test_kclass_arrays_in_chunks(tmp_path):
    from conftest import kclass_sharp

    rng = np.random.default_rng(3)
    names = ["benign", "malignant", "non-neoplastic"]
    y = np.tile(np.arange(3), 20)
    images = rng.integers(90, 160, size=(60, 32, 32, 3)).astype(np.int16)
    images[np.arange(60), :, :, y] += 35
    images = images.clip(0, 255).astype(np.uint8)
    labels = list(np.asarray(names)[y])
    labels[5] = "unlisted"  # skipped: not one of the model's classes
    runs = []
    for i, chunk in enumerate((7, DEFAULT_CHUNK_SIZE)):
        out = tmp_path / f"run{i}"
        _audit(kclass_sharp, (images, labels), out, class_names=names, input_size=32,
               perturbations=["blur"], severities=[1, 3], gradcam="none", chunk_size=chunk)
        runs.append(out)
    a, b = (_results(r) for r in runs)
    assert a["dataset"]["n_images"] == 59
    assert a == b
    assert (runs[0] / "samples.csv").read_bytes() == (runs[1] / "samples.csv").read_bytes()
