"""Colour statistics from 8-bit histograms of the CIELAB agree with direct numpy percentiles."""
from __future__ import annotations

import numpy as np
import pytest

from harness.demo.synthetic import render_synthetic
from subgroups.features import decode, expose, feature_vector, image_features
from subgroups.lab import rgb_to_lab
from subgroups.mask import analyse_image
from subgroups.settings import MaskParams


@pytest.fixture(scope="module")
def one():
    img = render_synthetic(n=1, size=160, seed=9).images[0]
    return img, analyse_image(img, MaskParams())


def test_percentiles_match_numpy_on_the_sampled_pixels(one):
    img, res = one
    names = ["skin.L.p10", "skin.L.p50", "skin.b.p90", "cand.a.p25", "image.G.p75", "skin.ita.p50",
             "skin.C.mean", "skin_fraction"]
    got = image_features(img, res, names, stride=2)
    sl = (slice(None, None, 2), slice(None, None, 2))
    lab = rgb_to_lab(img)[sl]
    skin, cand, inside = res.skin[sl], res.candidate[sl], res.inside[sl]
    L, a, b = lab[..., 0], lab[..., 1], lab[..., 2]
    assert got["skin.L.p10"] == pytest.approx(np.percentile(L[skin], 10), abs=0.5)
    assert got["skin.L.p50"] == pytest.approx(np.percentile(L[skin], 50), abs=0.5)
    assert got["skin.b.p90"] == pytest.approx(np.percentile(b[skin], 90), abs=1.0)
    assert got["cand.a.p25"] == pytest.approx(np.percentile(a[cand], 25), abs=1.0)
    assert got["image.G.p75"] == pytest.approx(np.percentile(img[sl][..., 1][inside], 75), abs=1.0)
    ita = np.degrees(np.arctan2(L[skin] - 50, b[skin]))
    assert got["skin.ita.p50"] == pytest.approx(np.percentile(ita, 50), abs=1.0)
    assert got["skin.C.mean"] == pytest.approx(np.hypot(a[skin], b[skin]).mean(), abs=0.5)
    assert got["skin_fraction"] == pytest.approx(res.skin.mean())


def test_exposure_normalisation_undoes_a_darker_exposure(one):
    img, res = one
    darker = (img.astype(np.float32) * 0.6).astype(np.uint8)
    names = ["x.skin.L.p50", "x.skin.b.p50", "skin.L.p50"]
    a = feature_vector(img, res, names)
    b = feature_vector(darker, analyse_image(darker, MaskParams()), names)
    assert b[2] < a[2] - 10           # the raw L* drops with the exposure ...
    assert abs(b[0] - a[0]) < 2.0     # ... the exposure-normalised one hardly moves
    assert abs(b[1] - a[1]) < 2.0
    inside = np.ones(img.shape[:2], bool)
    assert np.percentile(expose(img, inside).max(-1), 97) == pytest.approx(230, abs=2)


def test_small_regions_fall_back_and_names_are_checked(one):
    img, res = one
    empty = res.__class__(lab=res.lab, codes=res.codes, skin=np.zeros_like(res.skin), lesion=res.lesion,
                          candidate=res.candidate, inside=res.inside)
    v = feature_vector(img, empty, ["skin.L.p50", "cand.L.p50"])
    assert v[0] == v[1]  # no skin: the skin statistics come from the candidates
    with pytest.raises(ValueError, match="bad feature name"):
        feature_vector(img, res, ["skin.Q.p50"])
    assert decode("ita", 255) == pytest.approx(90.0)
