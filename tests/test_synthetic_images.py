"""Synthetic skin photographs: known ITA, class-dependent lesions, a planted visibility bias."""
from __future__ import annotations

import cv2
import numpy as np
import pandas as pd
import pytest
from skimage.color import rgb2lab

from harness.demo.synthetic import (
    ITA_RANGE,
    make_synthetic_dataset,
    render_synthetic,
    skin_colour_for_ita,
    synthetic_images,
)


def _ita_of(lab: np.ndarray, mask: np.ndarray) -> float:
    L = np.median(lab[..., 0][mask])
    b = np.median(lab[..., 2][mask])
    return float(np.degrees(np.arctan2(L - 50.0, b)))


def test_shapes_types_and_metadata():
    images, meta, lesion = synthetic_images(n=12, size=64, seed=1)
    assert images.shape == (12, 64, 64, 3) and images.dtype == np.uint8
    assert lesion.shape == (12, 64, 64) and lesion.dtype == bool
    for col in ("ita_true", "L_true", "b_true", "label", "group_true", "chardon6_true", "visibility"):
        assert col in meta.columns
    assert set(meta["label"]) <= {0, 1}
    assert ((meta["group_true"] == "dark") == (meta["ita_true"] < 10)).all()


def test_same_seed_same_images_other_seed_other_images():
    a, ma, la = synthetic_images(n=6, size=48, seed=7)
    b, mb, lb = synthetic_images(n=6, size=48, seed=7)
    c, _, _ = synthetic_images(n=6, size=48, seed=8)
    assert np.array_equal(a, b) and np.array_equal(la, lb)
    pd.testing.assert_frame_equal(ma, mb)
    assert not np.array_equal(a, c)


def test_colour_path_hits_the_requested_ita_exactly():
    ita = np.linspace(ITA_RANGE[0] + 0.1, ITA_RANGE[1] - 0.1, 50)
    L, _, b = skin_colour_for_ita(ita, chroma_scale=np.linspace(0.9, 1.1, 50))
    assert np.allclose(np.degrees(np.arctan2(L - 50, b)), ita, atol=1e-9)
    assert L.max() > 70 and L.min() < 30 and b.min() > 10 and b.max() < 27
    with pytest.raises(ValueError):
        skin_colour_for_ita(np.array([80.0]))


def test_healthy_skin_pixels_have_the_known_ita():
    # measured with scikit-image (independent of the code under test) on the true healthy skin
    batch = render_synthetic(n=60, size=96, seed=2)
    errors = []
    for img, skin, want in zip(batch.images, batch.skin, batch.meta["ita_true"]):
        errors.append(_ita_of(rgb2lab(img), skin) - want)
    errors = np.abs(errors)
    assert np.median(errors) < 1.0
    assert np.percentile(errors, 90) < 3.0


def test_labels_balanced_and_independent_of_skin_tone():
    _, meta, _ = synthetic_images(n=400, size=32, seed=3)
    assert 0.45 <= meta["label"].mean() <= 0.55
    r = np.corrcoef(meta["label"], meta["ita_true"])[0, 1]
    assert abs(r) < 0.15
    # dark_fraction is honoured
    assert 0.4 <= (meta["group_true"] == "dark").mean() <= 0.6


def _lesion_contrast(images, lesion, skin) -> np.ndarray:
    """Mean a* of lesion pixels minus mean a* of healthy skin, per image."""
    out = []
    for img, les, sk in zip(images, lesion, skin):
        lab = rgb2lab(img)
        out.append(lab[..., 1][les].mean() - lab[..., 1][sk].mean())
    return np.array(out)


@pytest.mark.parametrize("visibility", [1.0, 0.3])
def test_dark_visibility_scales_lesion_contrast_on_dark_skin_only(visibility):
    ita = np.r_[np.full(20, 40.0), np.full(20, -35.0)]
    batch = render_synthetic(n=40, size=64, seed=4, ita=ita, dark_visibility=visibility,
                             background=0, hair=0, specular=0)
    contrast = _lesion_contrast(batch.images, batch.lesion, batch.skin)
    light, dark = contrast[:20].mean(), contrast[20:].mean()
    assert light > 10  # erythema: a* well above the skin
    assert dark / light == pytest.approx(visibility, abs=0.15)


def test_classes_differ_in_lesion_structure():
    # class 1: several discrete round plaques; class 0: one diffuse patch
    _, meta, lesion = synthetic_images(n=60, size=96, seed=5)
    n_parts = np.array([cv2.connectedComponents(m.astype(np.uint8))[0] - 1 for m in lesion])
    labels = meta["label"].to_numpy()
    assert np.median(n_parts[labels == 1]) >= 3
    assert np.median(n_parts[labels == 0]) <= 2


def test_make_synthetic_dataset_writes_images_and_manifest(tmp_path):
    path = make_synthetic_dataset(tmp_path / "syn", n=10, size=48, seed=6, dark_fraction=0.5,
                                  dark_visibility=0.4, class_names=("atopic_dermatitis", "eczema"))
    manifest = pd.read_csv(path)
    assert list(manifest.columns[:3]) == ["path", "label", "ita_true"]
    assert len(manifest) == 10
    images, meta, _ = synthetic_images(n=10, size=48, seed=6, dark_visibility=0.4, dark_fraction=0.5)
    for i, row in manifest.iterrows():
        on_disk = cv2.cvtColor(cv2.imread(str(tmp_path / "syn" / row["path"])), cv2.COLOR_BGR2RGB)
        assert np.array_equal(on_disk, images[i])  # PNG is lossless
        assert row["path"].startswith(row["label"] + "/")
    assert np.allclose(manifest["ita_true"], meta["ita_true"], atol=1e-3)
    # `bias` is the same knob seen from the other side
    p2 = make_synthetic_dataset(tmp_path / "syn2", n=10, size=48, seed=6, bias=0.6)
    assert np.allclose(pd.read_csv(p2)["visibility"].min(), 0.4)
