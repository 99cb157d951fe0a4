"""Perturbation kernels: known answers on real DermNet NZ photographs and synthetic skin.

Every parametrised test is driven by the families' own parameter tables (``FAMILIES``), so a
family added to the registry is checked without touching this file.
"""
from __future__ import annotations

import cv2
import numpy as np
import pytest
import scipy.ndimage as ndi

from perturbation_refs import dermnet_files, ellipse_masks, in_gamut, lab, load_images, uniform_image
from perturbations import FAMILIES, Variant, achieved, apply, prepare
from perturbations.region import feather_reach, feather_sigma, feather_weights

CASES = [(name, sev) for name, spec in FAMILIES.items() for sev in spec.table]
STOCHASTIC = sorted(name for name, spec in FAMILIES.items() if spec.stochastic)


@pytest.fixture(scope="module")
def photos(dermnet_test) -> np.ndarray:
    """Eight real DermNet NZ photographs at 224 x 224."""
    return load_images(dermnet_files(dermnet_test, 8))


@pytest.fixture(scope="module")
def few(photos) -> np.ndarray:
    return photos[:3]


# -- every family, every severity ----------------------------------------------------------------

@pytest.mark.parametrize("family", list(FAMILIES))
def test_severity_zero_is_bit_exact_identity(few, family):
    masks = ellipse_masks(len(few))
    out = apply(Variant(family, 0), few, masks=masks, seed=3)
    assert out.dtype == np.uint8 and out is not few
    assert np.array_equal(out, few)


@pytest.mark.parametrize("family,severity", CASES)
def test_kernel_is_pure_deterministic_and_changes_the_image(few, family, severity):
    before = few.copy()
    masks = ellipse_masks(len(few))
    v = Variant(family, severity)
    a = apply(v, few, masks=masks, seed=0)
    b = apply(v, few, masks=masks, seed=0)
    assert np.array_equal(few, before), "the input batch was modified"
    assert a.shape == few.shape and a.dtype == np.uint8
    assert a.tobytes() == b.tobytes()
    assert not np.array_equal(a, few), f"{v.name} left every image unchanged"


@pytest.mark.parametrize("family,severity", CASES)
def test_prepared_batch_gives_the_same_bytes(few, family, severity):
    masks = ellipse_masks(len(few))
    v = Variant(family, severity)
    assert apply(v, prepare(few), masks=masks).tobytes() == apply(v, few, masks=masks).tobytes()


@pytest.mark.parametrize("family", list(FAMILIES))
def test_result_does_not_depend_on_batch_boundaries(photos, family):
    v = Variant(family, 3)
    masks = ellipse_masks(len(photos))
    ids = [f"img{i}" for i in range(len(photos))]
    whole = apply(v, photos, masks=masks, seed=5, image_ids=ids)
    parts = np.concatenate([apply(v, photos[:3], masks=masks[:3], seed=5, image_ids=ids[:3]),
                            apply(v, photos[3:], masks=masks[3:], seed=5, image_ids=ids[3:])])
    assert whole.tobytes() == parts.tobytes()


@pytest.mark.parametrize("family", list(FAMILIES))
def test_only_stochastic_families_depend_on_the_seed(few, family):
    v = Variant(family, 4)
    a, b = apply(v, few, seed=0), apply(v, few, seed=1)
    if family in STOCHASTIC:
        assert not np.array_equal(a, b)
    else:
        assert a.tobytes() == b.tobytes()


def test_the_stochastic_families_are_the_expected_ones():
    noises = [f"{p}_{n}_noise" for p in ("imagenet_c", "medmnist_c")
              for n in ("gaussian", "impulse", "shot", "speckle")]
    assert STOCHASTIC == sorted(["imagenet_c_motion_blur", "motion_blur", "noise", "medmnist_c_motion_blur",
                                 "imagenet_c_elastic_transform",
                                 "medmnist_c_text_overlay", "gel_bubbles", "hair"] + noises)


# -- brightness and contrast in CIELAB --------------------------------------------------------------

@pytest.mark.parametrize("family,severity", [c for c in CASES if c[0].startswith("brightness_")])
def test_brightness_scales_mean_lightness_of_unclipped_pixels(photos, family, severity):
    factor = Variant(family, severity).requested["L_factor"]
    out = apply(Variant(family, severity), photos)
    lab_in, lab_out = lab(photos), lab(out)
    wanted = lab_in.copy()
    wanted[..., 0] *= factor
    ok = in_gamut(lab_in) & in_gamut(wanted)       # pixels that cannot clip
    for i in range(len(photos)):
        assert ok[i].sum() > 2000, "too few unclipped pixels to judge"
        ratio = lab_out[i][ok[i], 0].mean() / lab_in[i][ok[i], 0].mean()
        assert ratio == pytest.approx(factor, rel=0.02)
        # chroma kept: a* and b* move by well under one unit on those pixels
        assert np.abs(lab_out[i][ok[i], 1:] - lab_in[i][ok[i], 1:]).mean() < 0.6


@pytest.mark.parametrize("family,severity", [c for c in CASES if c[0].startswith("contrast_")])
def test_contrast_scales_lightness_about_the_image_mean(photos, family, severity):
    k = Variant(family, severity).requested["factor"]
    out = apply(Variant(family, severity), photos)
    lab_in, lab_out = lab(photos), lab(out)
    for i in range(len(photos)):
        L_in = lab_in[i][..., 0]
        m = L_in.mean()
        wanted = lab_in[i].copy()
        wanted[..., 0] = m + k * (L_in - m)
        ok = in_gamut(lab_in[i]) & in_gamut(wanted)
        dev_in = L_in[ok] - m
        dev_out = lab_out[i][..., 0][ok] - m
        slope = float(np.dot(dev_in, dev_out) / np.dot(dev_in, dev_in))
        assert slope == pytest.approx(k, rel=0.03)


# -- redness ----------------------------------------------------------------------------------------

def test_redness_raises_a_star_inside_the_mask_and_nothing_outside(photos):
    masks = ellipse_masks(len(photos))
    lab_in = lab(photos)
    sigma = feather_sigma(photos.shape[1], photos.shape[2], FAMILIES["redness"].table[1]["feather_frac"])
    reach = feather_reach(sigma)
    beyond = ~cv2.dilate(masks[0].astype(np.uint8), np.ones((2 * reach + 1, 2 * reach + 1), np.uint8)).astype(bool)
    weights = feather_weights(masks, sigma_px=sigma)
    gains = []
    for sev in range(1, 6):
        req = Variant("redness", sev).requested
        out = apply(Variant("redness", sev), photos, masks=masks)
        lab_out = lab(out)
        d_a = (lab_out[..., 1] - lab_in[..., 1])[masks].mean()
        d_L = (lab_out[..., 0] - lab_in[..., 0])[masks].mean()
        assert d_a == pytest.approx(req["da"], rel=0.10)
        per_image = [(lab_out[i] - lab_in[i])[masks[i], 1].mean() for i in range(len(photos))]
        # each photo, too; rounding the result to 8 bits moves a photo's mean a* by up to ~0.3
        # (its colours are few and close, so the rounding errors do not average out)
        assert per_image == pytest.approx([req["da"]] * len(photos), rel=0.12, abs=0.3)
        # rounding to 8 bits moves the mean L* too: an absolute floor for small dL
        assert d_L == pytest.approx(req["dL"], rel=0.10, abs=0.12)
        gains.append(d_a)
        # bit-identical wherever the feathered weight is 0, and beyond the documented reach
        assert np.array_equal(out[weights == 0], photos[weights == 0])
        assert np.array_equal(out[:, beyond], photos[:, beyond])
    assert all(b > a for a, b in zip(gains, gains[1:])), gains


def test_redness_edge_is_feathered_not_a_step(photos):
    masks = ellipse_masks(1)
    sigma = feather_sigma(224, 224, 0.01)
    w = feather_weights(masks, sigma_px=sigma)[0]
    assert np.all(w[masks[0]] == 1.0)
    ring = (w > 0) & (w < 1)
    assert ring.sum() > 0
    levels = set(np.round(w[ring].astype(np.float64), 1).tolist())
    assert levels >= {0.1, 0.5, 0.9}  # a ramp, not one level


def test_redness_without_masks_reddens_the_whole_image(few):
    out = apply(Variant("redness", 5), few)
    d_a = lab(out)[..., 1] - lab(few)[..., 1]
    assert np.median(d_a) == pytest.approx(12.0, abs=1.5)


# -- blur ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("family,severity", [c for c in CASES if c[0] in ("blur", "imagenet_c_gaussian_blur")])
def test_gaussian_blur_matches_scipy(few, family, severity):
    req = Variant(family, severity).requested
    s = req["sigma_px"]
    mode = "nearest" if req.get("border") == "replicate" else "mirror"
    out = apply(Variant(family, severity), few).astype(np.float64)
    ref = np.stack([ndi.gaussian_filter(im.astype(np.float64), (s, s, 0), mode=mode, truncate=4.0)
                    for im in few])
    assert np.abs(out - ref).max() <= 0.51
    assert (out != np.rint(ref)).mean() < 1e-3


def test_blur_family_hf_loss_grows_with_sigma(photos):
    loss = [np.median(achieved(photos, apply(Variant("blur", s), photos))["hf_loss"]) for s in range(1, 6)]
    assert all(0 < a < b < 1 for a, b in zip(loss, loss[1:])), loss


# -- skin tone -------------------------------------------------------------------------------------------

@pytest.mark.parametrize("family,severity", [c for c in CASES if c[0].startswith("skin_tone_")])
def test_skin_tone_moves_ita_of_synthetic_skin_by_the_requested_angle(family, severity):
    from perturbations.skin_tone import ITA_RANGE_DEG

    skin = (65.0, 12.0, 18.0)                        # ITA = atan2(15, 18) = 39.8 degrees
    image = uniform_image(skin)
    ita0 = float(np.degrees(np.arctan2(15.0, 18.0)))
    d = Variant(family, severity).requested["dITA_deg"]
    expected = float(np.clip(ita0 + d, *ITA_RANGE_DEG)) - ita0   # held inside the span of real skin
    out = apply(Variant(family, severity), image)
    got = achieved(image, out)["dITA"][0]
    assert got == pytest.approx(expected, abs=1.0)
    L, _, b = lab(out)[0, 0, 0]
    assert np.hypot(L - 50.0, b) == pytest.approx(np.hypot(15.0, 18.0), abs=0.6)  # along the arc


def test_skin_tone_keeps_the_lesion_colour_relative_to_the_skin():
    image = uniform_image((62.0, 12.0, 17.0), shape=(1, 64, 64))
    lesion = uniform_image((50.0, 30.0, 20.0), shape=(1, 64, 64))
    image[:, 24:40, 24:40] = lesion[:, 24:40, 24:40]
    out = apply(Variant("skin_tone_darker", 3), image)
    before, after = lab(image)[0], lab(out)[0]
    diff_before = before[32, 32] - before[4, 4]
    diff_after = after[32, 32] - after[4, 4]
    assert np.abs(diff_after - diff_before).max() < 0.8
    assert after[4, 4, 0] < before[4, 4, 0] - 5        # the skin did get darker


def test_skin_tone_on_real_photos_moves_ita_the_asked_way(photos):
    masks = ellipse_masks(len(photos))
    for fam, sign in (("skin_tone_darker", -1), ("skin_tone_lighter", 1)):
        shifts = [np.median(achieved(photos, apply(Variant(fam, s), photos, masks=masks), masks=masks)["dITA"])
                  for s in (1, 3, 5)]
        assert all(sign * x > 0 for x in shifts)
        assert abs(shifts[0]) < abs(shifts[1]) < abs(shifts[2])
        assert abs(shifts[0]) == pytest.approx(5.0, rel=0.3)


# -- white balance, noise, JPEG, defocus, motion ---------------------------------------------------------------

def test_white_balance_reference_is_identity_and_casts_go_the_right_way():
    from perturbations.white_balance import REFERENCE_K, adaptation_matrix

    assert np.allclose(adaptation_matrix(REFERENCE_K), np.eye(3), atol=1e-12)
    grey = uniform_image((55.0, 0.0, 0.0))
    db = {fam: [achieved(grey, apply(Variant(fam, s), grey))["db"][0] for s in range(1, 6)]
          for fam in ("white_balance_warm", "white_balance_cool")}
    assert all(0 < a < b for a, b in zip(db["white_balance_warm"], db["white_balance_warm"][1:]))
    assert all(0 > a > b for a, b in zip(db["white_balance_cool"], db["white_balance_cool"][1:]))
    dL = achieved(grey, apply(Variant("white_balance_warm", 3), grey))["dL"][0]
    assert abs(dL) < 0.6                                # luminance of a neutral surface kept


@pytest.mark.parametrize("severity", range(1, 6))
def test_noise_has_the_requested_sigma(photos, severity):
    sigma = Variant("noise", severity).requested["sigma"]
    out = apply(Variant("noise", severity), photos, seed=11)
    mid = (photos > 60) & (photos < 195)                # far from clipping
    diff = out.astype(np.float64)[mid] - photos[mid]
    assert diff.std() == pytest.approx(sigma, rel=0.05)
    assert abs(diff.mean()) < 0.05 * sigma


def test_jpeg_error_grows_as_quality_falls(photos):
    err = [np.abs(apply(Variant("jpeg", s), photos).astype(int) - photos).mean() for s in range(1, 6)]
    assert all(a < b for a, b in zip(err, err[1:])), err


@pytest.mark.parametrize("radius", [1.0, 1.5, 2.0, 3.0, 4.0, 8.0])
def test_defocus_disk_has_the_spread_of_its_radius(radius):
    from perturbations.defocus import disk_kernel

    k = disk_kernel(radius).astype(np.float64)
    c = (k.shape[0] - 1) / 2
    yy, xx = np.mgrid[0:k.shape[0], 0:k.shape[1]]
    assert k.sum() == pytest.approx(1.0, abs=1e-6)
    # a uniform disk has E[x^2 + y^2] = r^2 / 2, plus about 1/6 px^2 from the pixel grid (a rough
    # correction below 2 px, where partly covered cells dominate)
    spread = (k * ((xx - c) ** 2 + (yy - c) ** 2)).sum()
    assert spread == pytest.approx(radius**2 / 2 + 1 / 6, rel=0.05 if radius >= 2 else 0.2)
    assert np.allclose(k, k.T) and np.allclose(k, k[::-1])


@pytest.mark.parametrize("length,angle", [(5.0, 0.0), (10.0, 30.0), (14.0, 90.0), (7.0, 135.0)])
def test_motion_line_kernel_spreads_along_its_angle(length, angle):
    from perturbations.motion import line_kernel

    k = line_kernel(length, angle).astype(np.float64)
    c = (k.shape[0] - 1) / 2
    yy, xx = np.mgrid[0:k.shape[0], 0:k.shape[1]]
    t = np.radians(angle)
    along = (xx - c) * np.cos(t) - (yy - c) * np.sin(t)
    across = (xx - c) * np.sin(t) + (yy - c) * np.cos(t)
    assert k.sum() == pytest.approx(1.0, abs=1e-6)
    assert (k * along).sum() == pytest.approx(0.0, abs=1e-6)
    # a uniform segment has variance L^2 / 12; bilinear splatting adds 1/6 px^2
    assert (k * along**2).sum() == pytest.approx(length**2 / 12 + 1 / 6, rel=0.05)
    assert (k * across**2).sum() < 0.2


def test_motion_blur_hf_loss_grows_with_length(photos):
    loss = [np.median(achieved(photos, apply(Variant("motion_blur", s), photos))["hf_loss"]) for s in range(1, 6)]
    assert all(a < b for a, b in zip(loss, loss[1:])), loss


def test_skin_tone_region_fills_enclosed_holes_and_leaves_the_background_alone(few):
    from perturbations.region import fill_region

    mask = np.zeros((1, 224, 224), bool)
    mask[0, 40:180, 40:180] = True
    mask[0, 90:110, 90:110] = False                     # an enclosed hole (a lesion left out)
    mask[0, 40:60, 100:120] = False                     # a notch open to the outside
    filled = fill_region(mask, close_px=2)
    assert filled[0, 90:110, 90:110].all()
    assert not filled[0, 41:58, 103:117].any()
    assert not filled[0, :30].any() and not filled[0, :, 190:].any()
    out = apply(Variant("skin_tone_darker", 4), few[:1], masks=mask)
    assert np.array_equal(out[0, :20], few[0, :20])     # background beyond the feather untouched
    assert np.abs(out[0, 95:105, 95:105].astype(int) - few[0, 95:105, 95:105]).mean() > 3  # hole moved
