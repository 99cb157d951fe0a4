"""achieved(): what a perturbation did, measured per image, against known perturbations."""
from __future__ import annotations

import numpy as np
import pytest

from perturbation_refs import dermnet_files, ellipse_masks, lab, load_images, uniform_image
from perturbations import Variant, achieved, apply, prepare


@pytest.fixture(scope="module")
def photos(dermnet_test) -> np.ndarray:
    return load_images(dermnet_files(dermnet_test, 6))


def test_identity_achieves_nothing(photos):
    a = achieved(photos, photos.copy())
    assert set(a) == {"dL", "da", "db", "dITA", "hf_loss", "area"}
    for values in a.values():
        assert values.shape == (len(photos),) and values.dtype == np.float64
        assert np.all(values == 0.0)


def test_known_lightness_change_of_a_uniform_patch():
    clean = uniform_image((60.0, 10.0, 15.0))
    out = apply(Variant("brightness_down", 2), clean)            # L* x 0.8 -> 48
    a = achieved(clean, out)
    assert a["dL"][0] == pytest.approx(-12.0, abs=0.35)
    assert abs(a["da"][0]) < 0.6 and abs(a["db"][0]) < 0.6
    ita_clean = np.degrees(np.arctan2(60.0 - 50.0, 15.0))        # 33.7 degrees
    ita_dark = np.degrees(np.arctan2(48.0 - 50.0, 15.0))         # -7.6 degrees
    assert a["dITA"][0] == pytest.approx(ita_dark - ita_clean, abs=1.5)


def test_measures_match_scikit_image_over_a_mask(photos):
    masks = ellipse_masks(len(photos))
    out = apply(Variant("redness", 4), photos, masks=masks)
    a = achieved(photos, out, masks=masks)
    ref = lab(out) - lab(photos)
    for i in range(len(photos)):
        assert a["da"][i] == pytest.approx(ref[i][masks[i], 1].mean(), abs=0.1)
        assert a["dL"][i] == pytest.approx(ref[i][masks[i], 0].mean(), abs=0.1)


def test_prepared_clean_gives_the_same_numbers(photos):
    out = apply(Variant("contrast_up", 2), photos)
    a, b = achieved(photos, out), achieved(prepare(photos), out)
    for k in a:
        assert np.array_equal(a[k], b[k])


def test_empty_mask_gives_nan_and_ita_differences_wrap():
    clean = np.concatenate([uniform_image((40.0, 5.0, 1.0)), uniform_image((40.0, 5.0, 1.0))])
    masks = np.ones(clean.shape[:3], bool)
    masks[1] = False
    # b* from +1 to -1 at L* = 40: ITA goes from -84 to -96 degrees, not a 350-degree jump
    out = np.concatenate([uniform_image((40.0, 5.0, -1.0)), uniform_image((40.0, 5.0, -1.0))])
    a = achieved(clean, out, masks=masks)
    assert -20 < a["dITA"][0] < -5
    assert all(np.isnan(a[k][1]) for k in a)


def test_hf_loss_orders_blur_and_goes_negative_for_noise(photos):
    blur1 = achieved(photos, apply(Variant("blur", 1), photos))["hf_loss"]
    blur5 = achieved(photos, apply(Variant("blur", 5), photos))["hf_loss"]
    noisy = achieved(photos, apply(Variant("noise", 4), photos))["hf_loss"]
    assert np.all((0 < blur1) & (blur1 < blur5) & (blur5 < 1))
    assert np.all(noisy < 0)
