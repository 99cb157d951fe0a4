"""Drift metrics between heatmaps: known answers on constructed maps."""
from __future__ import annotations

import math

import cv2
import numpy as np
import pytest

from harness.explain.attention import DRIFT_METRICS, drift, shift_images, ssim, upsample


def _blob(h: int, w: int, cy: float, cx: float, sigma: float = 1.0) -> np.ndarray:
    y, x = np.mgrid[0:h, 0:w]
    return np.exp(-((y - cy) ** 2 + (x - cx) ** 2) / (2 * sigma**2))


def _random_maps(n: int = 8, h: int = 7, w: int = 7, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.maximum(rng.normal(size=(n, h, w)), 0).astype(np.float32)


def test_identity_is_exact():
    maps = _random_maps()
    d = drift(maps, maps.copy(), size=(224, 224))
    assert list(d) == list(DRIFT_METRICS)
    assert np.all(d["spearman"] == 1.0) and np.all(d["cosine"] == 1.0)
    assert np.all(d["centroid_shift"] == 0.0)
    assert np.all(d["iou_top10"] == 1.0) and np.all(d["iou_top20"] == 1.0)
    assert np.all(d["ssim"] > 1 - 1e-6)


def test_metrics_do_not_depend_on_the_scale_of_either_map():
    a, b = _random_maps(seed=1), _random_maps(seed=2)
    d1 = drift(a, b, size=(64, 64))
    d2 = drift(a * 1e-4, b * 300.0, size=(64, 64))
    for key in DRIFT_METRICS:
        np.testing.assert_allclose(d1[key], d2[key], rtol=1e-5, atol=1e-6, err_msg=key)


def test_centroid_shift_of_a_moved_blob_is_its_distance_over_the_diagonal():
    # A blob on a 14 x 14 grid, moved 4 cells right and 3 down; upsampled 16x to 224 x 224 the
    # move is 64 and 48 pixels: a distance of 80 over a diagonal of 224 * sqrt(2).
    a = _blob(14, 14, 5.0, 5.0)[None]
    b = _blob(14, 14, 8.0, 9.0)[None]
    d = drift(a, b, size=(224, 224))
    assert d["centroid_shift"][0] == pytest.approx(80 / (224 * math.sqrt(2)), rel=1e-3)
    # Far apart: the top 10% regions do not overlap at all.
    assert d["iou_top10"][0] == 0.0
    # A non-square image: the diagonal is hypot(height, width).
    d = drift(a, b, size=(140, 280))
    dy, dx = 3 * 10, 4 * 20
    assert d["centroid_shift"][0] == pytest.approx(math.hypot(dy, dx) / math.hypot(140, 280), rel=1e-3)


def test_rank_and_cosine_known_answers():
    ramp = np.arange(1, 50, dtype=np.float64).reshape(1, 7, 7)
    rev = ramp[:, ::-1, ::-1].copy()
    d = drift(ramp, rev, size=(28, 28))
    assert d["spearman"][0] == pytest.approx(-1.0, abs=1e-12)
    v = ramp.ravel()
    assert d["cosine"][0] == pytest.approx(v @ v[::-1] / (v @ v), rel=1e-12)
    # A monotone transform keeps the rank order: Spearman 1, cosine below 1.
    d = drift(ramp, ramp**3, size=(28, 28))
    assert d["spearman"][0] == pytest.approx(1.0, abs=1e-12) and d["cosine"][0] < 0.95


def test_top_fraction_iou_known_answer():
    # A 20 x 20 grid at 20 x 20 pixels (no interpolation); map a ranks the cells 0..399, map b
    # is a rolled by 10 places, so b's top cells are a's top cells moved back by 10.
    a = np.arange(400, dtype=np.float64).reshape(1, 20, 20) + 1
    b = np.roll(a.ravel(), -10).reshape(1, 20, 20)
    d = drift(a, b, size=(20, 20))
    # top 10% = 40 cells: a's are 360..399, b's 350..389: overlap 30, union 50.
    assert d["iou_top10"][0] == pytest.approx(30 / 50)
    # top 20% = 80 cells: a's 320..399, b's 310..389: overlap 70, union 90.
    assert d["iou_top20"][0] == pytest.approx(70 / 90)


def test_all_zero_map_is_undefined_not_zero():
    a = _random_maps(3)
    b = a.copy()
    b[1] = 0
    d = drift(a, b, size=(32, 32))
    for key in DRIFT_METRICS:
        assert np.isnan(d[key][1]) and np.all(np.isfinite(d[key][[0, 2]])), key


def test_upsample_matches_cv2_bilinear():
    maps = _random_maps(3, 7, 9)
    got = upsample(maps, size=(224, 160))
    for i in range(3):
        ref = cv2.resize(maps[i], (160, 224), interpolation=cv2.INTER_LINEAR)
        np.testing.assert_allclose(got[i], ref, atol=1e-5)


def test_ssim_matches_skimage():
    metrics = pytest.importorskip("skimage.metrics")
    rng = np.random.default_rng(3)
    a = upsample(_random_maps(2, seed=3), size=(64, 48))
    a /= a.max(axis=(1, 2), keepdims=True)
    b = np.clip(a + 0.1 * rng.normal(size=a.shape), 0, 1)
    got = ssim(a, b)
    for i in range(2):
        ref = metrics.structural_similarity(a[i], b[i], data_range=1.0, gaussian_weights=True,
                                            sigma=1.5, use_sample_covariance=False)
        assert got[i] == pytest.approx(ref, abs=1e-5)
    assert 0.2 < got.min() < got.max() < 0.99  # a real difference, well away from both ends


def test_drift_of_one_image_does_not_depend_on_the_batch():
    a, b = _random_maps(100, seed=4), _random_maps(100, seed=5)  # more than one internal chunk
    whole = drift(a, b, size=(56, 56))
    alone = drift(a[70:71], b[70:71], size=(56, 56))
    for key in DRIFT_METRICS:
        assert whole[key][70] == alone[key][0], key


def test_shift_images_moves_right_by_one_and_repeats_the_edge():
    img = np.arange(2 * 3 * 4 * 3, dtype=np.uint8).reshape(2, 3, 4, 3)
    out = shift_images(img, pixels=1)
    np.testing.assert_array_equal(out[:, :, 1:], img[:, :, :-1])
    np.testing.assert_array_equal(out[:, :, 0], img[:, :, 0])
    with pytest.raises(ValueError):
        shift_images(img, pixels=4)


def test_bad_shapes_are_programming_errors():
    with pytest.raises(ValueError, match="same shape"):
        drift(np.zeros((2, 7, 7)), np.zeros((3, 7, 7)), size=(10, 10))
    with pytest.raises(ValueError, match=r"\(N, h, w\)"):
        drift(np.zeros((7, 7)), np.zeros((7, 7)), size=(10, 10))
    with pytest.raises(ValueError, match="height, width"):
        drift(np.zeros((1, 7, 7)), np.zeros((1, 7, 7)), size=(0, 10))
