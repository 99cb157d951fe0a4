"""Grad-CAM inside ``harness run``: the positive class is the one explained, heatmaps are cached
under everything that changes them, and each family's gallery overlays land in its own folder."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from model_factories import tiny_convnet, write_sidecar

pytest.importorskip("keras")

REPO = Path(__file__).resolve().parents[1]


def _run(model, data, out, cache):
    proc = subprocess.run(
        [sys.executable, "-m", "harness", "run", "--model", str(model), "--data", str(data),
         "--out", str(out), "--cache", str(cache), "--perturbations", "blur,brightness_down",
         "--severities", "2", "--gradcam", "40", "--n-boot", "50", "--quiet"],
        cwd=REPO, capture_output=True, text=True, timeout=600, env=dict(os.environ))
    assert proc.returncode == 0, proc.stderr
    return json.loads((out / "results.json").read_text())


@pytest.fixture(scope="module")
def two_runs(dermnet_subset, tmp_path_factory):
    """The same sigmoid model audited twice on one cache: first with eczema as the positive class
    (what its unit measures), then with atopic_dermatitis (the unit's complement)."""
    root = tmp_path_factory.mktemp("gradcam-run")
    model = root / "tiny.keras"
    tiny_convnet(size=32).save(model)
    names = ["atopic_dermatitis", "eczema"]
    write_sidecar(model, class_names=names, positive_class="eczema")
    first = _run(model, dermnet_subset, root / "run-eczema", root / "cache")
    write_sidecar(model, class_names=names, positive_class="atopic_dermatitis")
    second = _run(model, dermnet_subset, root / "run-ad", root / "cache")
    return root, first, second


def test_the_positive_class_is_explained_and_not_served_from_the_cache(two_runs):
    _, first, second = two_runs
    assert first["gradcam"]["explainer"] == "gradcam" and "occlusion" not in first["gradcam"]
    assert first["gradcam"]["class_explained"] == "eczema"
    assert second["gradcam"]["class_explained"] == "atopic_dermatitis"
    # Grad-CAM of the unit's score and of its negation weigh the feature maps with opposite
    # signs: where the model looks for atopic dermatitis is not where it looks for eczema.
    a, b = first["gradcam"]["attention"], second["gradcam"]["attention"]
    assert first["gradcam"]["n_images"] == second["gradcam"]["n_images"] == 40
    # (an image whose map is zero everywhere for one class has no share: n may differ)
    assert a["skin"]["n"] > 20 and b["skin"]["n"] > 20
    assert any(abs(a[k]["mean"] - b[k]["mean"]) > 1e-3 for k in ("lesion", "skin", "background"))


def test_each_family_keeps_its_own_gallery_overlays(two_runs):
    root, first, _ = two_runs
    thumbs = root / "run-eczema" / "thumbs" / "gradcam"
    folders = {p.name for p in thumbs.iterdir() if p.is_dir()}
    assert {"clean", "blur@2", "brightness_down@2"} <= folders
    assert len(list((thumbs / "blur@2").iterdir())) == len(list((thumbs / "clean").iterdir())) > 0
