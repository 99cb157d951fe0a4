"""The one CIELAB conversion: scikit-image's values to 1e-3, known patches, an exact round trip."""
from __future__ import annotations

import numpy as np
import pytest
from skimage.color import lab2rgb, rgb2lab

from subgroups.lab import ita_degrees, lab_to_rgb, rgb_to_lab
from subgroups.mask import L_SCALE, lab_codes


def _every_third_colour() -> np.ndarray:
    """86^3 sRGB colours (every third 8-bit level per channel, 255 included), as (86*86, 86, 3)."""
    levels = np.append(np.arange(0, 255, 3), 255).astype(np.uint8)
    grid = np.stack(np.meshgrid(levels, levels, levels, indexing="ij"), -1)
    return grid.reshape(-1, len(levels), 3)


# sRGB patch -> CIE L*a*b* (D65, 2 degree observer) as published for the sRGB primaries and
# neutrals (Bruce Lindbloom's calculator); scikit-image's slightly different matrix constants
# move them by up to 0.003
KNOWN = [
    ((255, 255, 255), (100.0, 0.0, 0.0)),
    ((0, 0, 0), (0.0, 0.0, 0.0)),
    ((128, 128, 128), (53.585, 0.0, 0.0)),
    ((255, 0, 0), (53.2408, 80.0925, 67.2032)),
    ((0, 255, 0), (87.7347, -86.1827, 83.1793)),
    ((0, 0, 255), (32.2970, 79.1875, -107.8602)),
]


@pytest.mark.parametrize("rgb, want", KNOWN)
def test_known_patches(rgb, want):
    patch = np.full((4, 5, 3), rgb, np.uint8)
    got = rgb_to_lab(patch)
    ref = rgb2lab(patch)[0, 0]
    assert np.abs(got - ref).max() < 1e-3                    # the reference conversion
    assert got[0, 0] == pytest.approx(want, abs=5e-3)        # and the published value


def test_every_colour_matches_scikit_image_to_a_thousandth():
    px = _every_third_colour()
    err = np.abs(rgb_to_lab(px).astype(np.float64) - rgb2lab(px)).reshape(-1, 3)
    assert err.max(0).tolist() < [1e-3, 1e-3, 1e-3]
    assert err.mean() < 1e-4


@pytest.mark.filterwarnings("ignore:Conversion from CIE-LAB")  # scikit-image clipping out-of-gamut Z
def test_round_trip_is_exact_for_every_colour_and_the_inverse_matches_scikit_image():
    px = _every_third_colour()
    assert np.array_equal(lab_to_rgb(rgb_to_lab(px)), px)
    rng = np.random.default_rng(0)
    lab = np.stack([rng.uniform(0, 100, 20000), rng.uniform(-80, 80, 20000),
                    rng.uniform(-80, 80, 20000)], -1)[None].astype(np.float32)
    ref = lab2rgb(lab.astype(np.float64))[0]
    inside = np.all((ref > 0.002) & (ref < 0.998), -1)    # in gamut: nothing to clip
    assert inside.sum() > 3000
    ours = lab_to_rgb(lab)[0].astype(int)
    assert np.abs(ours[inside] - np.rint(ref[inside] * 255)).max() <= 1
    # out of gamut: each channel clipped, never wrapped
    assert lab_to_rgb(np.array([[[50.0, 120.0, 0.0]]], np.float32))[0, 0].tolist()[2] >= 0


def test_ita_and_the_mask_bins():
    assert ita_degrees(50.0, 10.0) == pytest.approx(0.0)
    assert ita_degrees(60.0, 10.0) == pytest.approx(45.0)
    assert ita_degrees(np.array([40.0]), np.array([10.0]))[0] == pytest.approx(-45.0)
    codes = lab_codes(rgb_to_lab(np.array([[[255, 255, 255], [255, 0, 0]]], np.uint8)))
    assert codes[0, 0].tolist() == [255, 128, 128]
    assert codes[0, 1].tolist() == [round(53.2408 / L_SCALE), 128 + 80, 128 + 67]


def test_batches_keep_their_shape_and_reject_wrong_input():
    imgs = np.zeros((3, 5, 7, 3), np.uint8)
    assert rgb_to_lab(imgs).shape == (3, 5, 7, 3) and rgb_to_lab(imgs).dtype == np.float32
    assert lab_to_rgb(rgb_to_lab(imgs)).shape == (3, 5, 7, 3)
    assert rgb_to_lab(np.zeros((0, 4, 4, 3), np.uint8)).shape == (0, 4, 4, 3)
    with pytest.raises(TypeError):
        rgb_to_lab(imgs.astype(np.float32))
    with pytest.raises(ValueError):
        rgb_to_lab(np.zeros((5, 7), np.uint8))
