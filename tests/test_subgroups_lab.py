"""CIELAB through OpenCV agrees with scikit-image once the 8-bit scaling is undone."""
from __future__ import annotations

import numpy as np
import pytest
from skimage.color import rgb2lab

from subgroups.lab import ita_degrees, lab8_to_lab, rgb_to_lab, rgb_to_lab8


def _pixels() -> np.ndarray:
    rng = np.random.default_rng(0)
    random = rng.integers(0, 256, size=(500, 3))
    skin = np.array([[255, 224, 196], [234, 192, 134], [198, 134, 66], [141, 85, 36],
                     [92, 51, 23], [60, 36, 22], [240, 200, 200], [120, 70, 60]])
    return np.concatenate([random, skin]).astype(np.uint8)[None]  # (1, N, 3)


def test_eight_bit_path_matches_skimage_within_rounding():
    px = _pixels()
    ours = rgb_to_lab(px)[0]
    ref = rgb2lab(px)[0]
    err = np.abs(ours - ref)
    assert err[:, 0].max() <= 0.5                      # one 8-bit L step is 0.39
    assert np.percentile(err[:, 1:], 99) <= 1.0        # a*, b* are rounded to integers ...
    assert err[:, 1:].max() <= 2.0                     # ... (saturated colours a little more)
    assert err[-8:].max() <= 1.0                       # skin colours: within the rounding


def test_float_path_matches_skimage_closely():
    px = _pixels()
    ours = rgb_to_lab(px, exact=True)[0]
    ref = rgb2lab(px)[0]
    assert np.abs(ours - ref).max() < 0.3   # OpenCV's float path approximates the sRGB curve
    assert np.abs(ours - ref).mean() < 0.1


def test_ita_from_both_paths_agrees_on_skin_colours():
    px = _pixels()[:, -8:]
    ref = rgb2lab(px)[0]
    ours = rgb_to_lab(px)[0]
    d = ita_degrees(ours[:, 0], ours[:, 2]) - ita_degrees(ref[:, 0], ref[:, 2])
    assert np.abs(d).max() < 1.5
    assert np.abs(d).mean() < 0.6


def test_known_values_and_scaling():
    white = np.full((1, 1, 3), 255, np.uint8)
    assert rgb_to_lab8(white)[0, 0].tolist() == [255, 128, 128]
    assert lab8_to_lab(rgb_to_lab8(white))[0, 0].tolist() == pytest.approx([100.0, 0.0, 0.0])
    assert ita_degrees(50.0, 10.0) == pytest.approx(0.0)
    assert ita_degrees(60.0, 10.0) == pytest.approx(45.0)


def test_batches_keep_their_shape_and_reject_wrong_input():
    imgs = np.zeros((3, 5, 7, 3), np.uint8)
    assert rgb_to_lab(imgs).shape == (3, 5, 7, 3)
    with pytest.raises(TypeError):
        rgb_to_lab(imgs.astype(np.float32))
    with pytest.raises(ValueError):
        rgb_to_lab(np.zeros((5, 7), np.uint8))
