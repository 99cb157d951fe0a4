"""The dermatology protocols' digital and noise corruptions (ImageNet-C / SAM-C, MedMNIST-C):
known answers on small synthetic images.

Pixelate's blocks, zoom blur's radial reach, each noise's variance against its parameter, the
text overlay's covered area, and the generic promises (severity 0, determinism, batch, shape).
"""
from __future__ import annotations

import math

import cv2
import numpy as np
import pytest
from scipy import stats
from scipy.ndimage import map_coordinates
from scipy.ndimage import zoom as scizoom
from skimage.filters import gaussian

from perturbations import FAMILIES, Variant, achieved, apply
from perturbations.digital import elastic_transform, zoom_factors
from perturbations.measure import COVERED_DELTA_E
from subgroups.lab import rgb_to_lab

PIXELATE = ("imagenet_c_pixelate", "medmnist_c_pixelate")
NOISES = [f"{p}_{n}_noise" for p in ("imagenet_c", "medmnist_c") for n in ("gaussian", "shot", "impulse", "speckle")]
NEW = list(PIXELATE) + ["imagenet_c_zoom_blur", "imagenet_c_elastic_transform", "medmnist_c_text_overlay"] + NOISES + [
    f for f in FAMILIES if f.startswith("medmnist_c_") and f not in NOISES + list(PIXELATE)]


def flat(level: int, shape=(1, 192, 192)) -> np.ndarray:
    return np.full(shape + (3,), level, dtype=np.uint8)


def rows_for(family):
    return [(family, s) for s in range(1, 6)]


# -- pixelate --------------------------------------------------------------------------------------

@pytest.mark.parametrize("family,severity", [(f, s) for f in PIXELATE for s in (2, 5)])
@pytest.mark.parametrize("shape", [(224, 224), (160, 224)])
def test_pixelate_makes_flat_blocks_of_one_over_factor(family, severity, shape):
    factor = Variant(family, severity).requested["factor"]
    block = round(1 / factor)                      # .5 -> 2 px, .25 -> 4 px
    yy, xx = np.indices(shape)
    board = np.where((yy + xx) % 2 == 0, 0, 255).astype(np.uint8)[None, ..., None].repeat(3, -1)
    out = apply(Variant(family, severity), board)[0, ..., 0].astype(int)
    h, w = shape
    blocks = out.reshape(h // block, block, w // block, block)
    assert np.all(blocks == blocks[:, :1, :, :1]), "not constant on its blocks"
    assert np.all(np.abs(out - 127.5) <= 0.5)      # a 1-px checkerboard finer than the block averages out
    # a random image: the block size is exact, neighbouring blocks differ
    rng = np.random.default_rng(1)
    noise = rng.integers(0, 256, (1, h, w, 3), dtype=np.uint8)
    out = apply(Variant(family, severity), noise)[0, :, :, 0]
    assert np.all(out.reshape(h // block, block, w // block, block) == out[::block, ::block][:, None, :, None])
    assert (np.diff(out[::block, ::block].astype(int), axis=1) != 0).mean() > 0.9


def test_pixelate_tables_are_the_protocols():
    assert [Variant("imagenet_c_pixelate", s).requested["factor"] for s in range(1, 6)] == [0.6, 0.5, 0.4, 0.3, 0.25]
    assert [Variant("medmnist_c_pixelate", s).requested["factor"] for s in range(1, 6)] == [0.7, 0.5, 0.4, 0.3, 0.25]


# -- zoom blur -------------------------------------------------------------------------------------

@pytest.mark.parametrize("severity", [1, 3, 5])
def test_zoom_blur_spreads_a_dot_radially_by_the_largest_factor(severity):
    req = Variant("imagenet_c_zoom_blur", severity).requested
    z_max = float(zoom_factors(req["zoom_stop"], req["zoom_step"])[-1])
    image = flat(0, (1, 201, 201))
    r = 60
    image[0, 100, 100 + r] = 255                   # a dot 60 px right of the centre
    out = apply(Variant("imagenet_c_zoom_blur", severity), image)[0, ..., 0]
    ys, xs = np.nonzero(out)
    # radial: along the dot's row (the protocols' crops round the centre down: a 2 px drift)
    assert np.all(np.abs(ys - 100) <= 2), "the streak leaves the dot's radius"
    assert xs.min() == 100 + r                     # starts at the dot (zoom 1 keeps it)
    assert xs.max() - 100 == pytest.approx(r * z_max, abs=2)     # ends where the largest zoom puts it
    assert (xs.max() - xs.min()) == pytest.approx(r * (z_max - 1), abs=2)


def test_zoom_blur_matches_the_protocols_scipy_reference():
    rng = np.random.default_rng(3)
    image = rng.integers(0, 256, (1, 64, 64, 3), dtype=np.uint8)
    for severity in (1, 5):
        req = Variant("imagenet_c_zoom_blur", severity).requested
        ours = apply(Variant("imagenet_c_zoom_blur", severity), image)[0].astype(np.float64)
        x = (image[0] / 255.0).astype(np.float32)
        acc = np.zeros_like(x)
        factors = zoom_factors(req["zoom_stop"], req["zoom_step"])
        for z in factors:                          # their clipped_zoom, square crop
            ch = int(np.ceil(64 / z))
            top = (64 - ch) // 2
            big = scizoom(x[top:top + ch, top:top + ch], (z, z, 1), order=1)
            trim = (big.shape[0] - 64) // 2
            acc += big[trim:trim + 64, trim:trim + 64]
        ref = np.clip((x + acc) / (len(factors) + 1), 0, 1) * 255
        assert np.abs(ours - ref).max() <= 0.51


def test_zoom_blur_keeps_a_constant_image_and_counts_its_factors():
    assert [len(zoom_factors(*Variant("imagenet_c_zoom_blur", s).requested.values())) for s in range(1, 6)] \
        == [12, 16, 11, 13, 11]                    # np.arange as the protocols call it
    image = flat(137, (1, 48, 80))
    for s in (1, 5):
        assert np.array_equal(apply(Variant("imagenet_c_zoom_blur", s), image), image)


# -- elastic transform ------------------------------------------------------------------------------

def _their_elastic(image: np.ndarray, c: tuple, rng: np.random.Generator) -> np.ndarray:
    """make_imagenet_c.py's elastic_transform, its draws taken from ``rng`` in the same order."""
    image = np.array(image, dtype=np.float32) / 255.0
    shape = image.shape
    shape_size = shape[:2]
    center_square = np.float32(shape_size) // 2
    square_size = min(shape_size) // 3
    pts1 = np.float32([center_square + square_size,
                       [center_square[0] + square_size, center_square[1] - square_size],
                       center_square - square_size])
    pts2 = pts1 + rng.uniform(-c[2], c[2], size=pts1.shape).astype(np.float32)
    image = cv2.warpAffine(image, cv2.getAffineTransform(pts1, pts2), shape_size[::-1],
                           borderMode=cv2.BORDER_REFLECT_101)
    dx = (gaussian(rng.uniform(-1, 1, size=shape[:2]), c[1], mode="reflect", truncate=3) * c[0]).astype(np.float32)
    dy = (gaussian(rng.uniform(-1, 1, size=shape[:2]), c[1], mode="reflect", truncate=3) * c[0]).astype(np.float32)
    x, y, z = np.meshgrid(np.arange(shape[1]), np.arange(shape[0]), np.arange(shape[2]))
    indices = (np.reshape(y + dy[..., None], (-1, 1)), np.reshape(x + dx[..., None], (-1, 1)), np.reshape(z, (-1, 1)))
    return np.clip(map_coordinates(image, indices, order=1, mode="reflect").reshape(shape), 0, 1) * 255


@pytest.mark.parametrize("severity", [1, 2, 5])
def test_elastic_transform_is_their_code_given_the_same_draws(severity):
    rng = np.random.default_rng(8)
    image = cv2.GaussianBlur(rng.integers(0, 256, (64, 64, 3), dtype=np.uint8), (0, 0), 2)
    p = Variant("imagenet_c_elastic_transform", severity).requested
    assert (p["alpha"], p["sigma"], p["affine"]) == pytest.approx(
        [(488, 170.8, 24.4), (488, 19.52, 48.8), (12.2, 2.44, 4.88), (17.08, 2.44, 4.88),
         (29.28, 2.44, 4.88)][severity - 1])
    ours = elastic_transform(image[None], **p, noise_seeds=np.array([11], dtype=np.uint64))[0]
    ref = _their_elastic(image, (p["alpha"], p["sigma"], p["affine"]), np.random.default_rng(11))
    assert np.abs(ours - ref).max() <= 0.51
    assert np.abs(ours.astype(float) - image).mean() > 1        # it did move the pixels


# -- noise: achieved variance against the parameter ------------------------------------------------

def _mad_sigma(d: np.ndarray) -> float:
    """Gaussian sigma from the median absolute deviation (robust to the clipped tails)."""
    return float(np.median(np.abs(d)) / 0.6744897501960817)


@pytest.mark.parametrize("family,severity", [r for p in ("imagenet_c", "medmnist_c")
                                             for r in rows_for(f"{p}_gaussian_noise")])
def test_gaussian_noise_sigma_is_255_c(family, severity):
    sigma = Variant(family, severity).requested["sigma"]
    out = apply(Variant(family, severity), flat(128), seed=2)
    assert _mad_sigma(out.astype(float) - 128) == pytest.approx(sigma, rel=0.03)


@pytest.mark.parametrize("family,severity", [r for p in ("imagenet_c", "medmnist_c")
                                             for r in rows_for(f"{p}_shot_noise")])
def test_shot_noise_is_poisson_with_the_protocols_photon_count(family, severity):
    c = Variant(family, severity).requested["photons"]
    x = 64 / 255
    out = apply(Variant(family, severity), flat(64), seed=4).astype(np.float64).ravel()
    # exact law of the output level: round(255 min(k, c) / c), k ~ Poisson(c x)
    k = np.arange(0, int(c * x + 12 * math.sqrt(c * x) + 20))
    levels = np.rint(255.0 * np.minimum(k, c) / c)
    pmf = stats.poisson.pmf(k, c * x)
    mean = float(pmf @ levels)
    var = float(pmf @ (levels - mean) ** 2)
    if c >= 10:                                    # unclipped: Poisson variance x / c (0-1 scale)
        assert var == pytest.approx(x * 255**2 / c, rel=0.02)
    assert out.mean() == pytest.approx(mean, abs=4 * math.sqrt(var / out.size))
    assert out.var() == pytest.approx(var, rel=0.03)


@pytest.mark.parametrize("family,severity", [r for p in ("imagenet_c", "medmnist_c")
                                             for r in rows_for(f"{p}_impulse_noise")])
def test_impulse_noise_replaces_the_share_amount_by_salt_or_pepper(family, severity):
    amount = Variant(family, severity).requested["amount"]
    out = apply(Variant(family, severity), flat(128), seed=5)
    n = out.size
    salt, pepper = (out == 255).mean(), (out == 0).mean()
    assert salt + pepper == pytest.approx(amount, abs=4 * math.sqrt(amount * (1 - amount) / n))
    assert salt == pytest.approx(pepper, abs=4 * math.sqrt(amount / n))
    assert np.all((out == 128) | (out == 0) | (out == 255))       # nothing else is touched


def _speckle_law(level: int, sigma: float) -> tuple[float, float]:
    """Mean and variance of round(clip(level (1 + sigma n), 0, 255)), n ~ N(0, 1), by quadrature."""
    n = np.linspace(-9, 9, 36001)
    w = stats.norm.pdf(n)
    w /= w.sum()
    out = np.rint(np.clip(level * (1 + sigma * n), 0, 255))
    mean = float(w @ out)
    return mean, float(w @ (out - mean) ** 2)


@pytest.mark.parametrize("family,severity", [r for p in ("imagenet_c", "medmnist_c")
                                             for r in rows_for(f"{p}_speckle_noise")])
def test_speckle_noise_is_multiplicative_with_the_protocols_sigma(family, severity):
    sigma = Variant(family, severity).requested["sigma"]
    v = Variant(family, severity)
    image = np.concatenate([flat(128, (1, 96, 192)), flat(64, (1, 96, 192))], axis=1)
    out = apply(v, image, seed=6).astype(np.float64)
    for part, level in ((out[0, :96], 128), (out[0, 96:], 64)):
        mean, var = _speckle_law(level, sigma)
        assert part.var() == pytest.approx(var, rel=0.04), level
        assert part.mean() == pytest.approx(mean, abs=4 * math.sqrt(var / part.size))
    if sigma <= 0.2:                               # unclipped: the spread scales with the level
        assert out[0, :96].std() / out[0, 96:].std() == pytest.approx(2.0, rel=0.04)
        assert out[0, :96].std() == pytest.approx(128 * sigma, rel=0.03)


# -- text overlay ----------------------------------------------------------------------------------

def test_text_overlay_area_is_positive_grows_with_severity_and_is_measured():
    images = flat(180, (24, 128, 128))
    ids = [f"img{i}" for i in range(len(images))]
    means = []
    for s in range(1, 6):
        out = apply(Variant("medmnist_c_text_overlay", s), images, seed=0, image_ids=ids)
        moved = np.sum((rgb_to_lab(out) - rgb_to_lab(images)) ** 2, axis=-1) >= COVERED_DELTA_E ** 2
        area = achieved(images, out)["area"]
        np.testing.assert_allclose(area, moved.mean(axis=(1, 2)), atol=1e-6)  # the covered share
        assert np.all(area > 0)
        means.append(area.mean())
    assert all(a < b for a, b in zip(means, means[1:])), means
    assert 0.0005 < means[0] < means[-1] < 0.05, means             # small words (4-5 px high)


def test_area_measure_known_answer():
    clean = flat(100, (1, 100, 100))
    out = clean.copy()
    out[0, 10:20, 30:50] = (10, 200, 30)           # 200 of 10,000 pixels
    assert achieved(clean, out)["area"][0] == pytest.approx(0.02)
    assert Variant("medmnist_c_text_overlay", 1).measures == ("area",)
    from harness.pipeline.ladder import variant_entry   # a run records the area, and only it
    entry = variant_entry(Variant("medmnist_c_text_overlay", 1), achieved(clean, out))
    assert set(entry["achieved"]) == {"area"} and entry["achieved"]["area"]["mean"] == pytest.approx(0.02)


def test_text_overlay_is_deterministic_per_image_id():
    images = flat(180, (3, 128, 192))
    v = Variant("medmnist_c_text_overlay", 5)
    a = apply(v, images, seed=1, image_ids=["a", "b", "c"])
    assert a.tobytes() == apply(v, images, seed=1, image_ids=["a", "b", "c"]).tobytes()
    assert not np.array_equal(a[0], a[1])                          # another id, other words
    assert np.array_equal(apply(v, images[:1], seed=1, image_ids=["b"])[0], a[1])
    assert not np.array_equal(apply(v, images, seed=2, image_ids=["a", "b", "c"]), a)


# -- MedMNIST-C's Pillow brightness and contrast ---------------------------------------------------

def test_medmnist_c_brightness_and_contrast_are_pillows_formulas():
    image = flat(100, (1, 20, 20))
    image[0, 10:] = 200                            # mean grey 150
    up = apply(Variant("medmnist_c_brightness_up", 5), image)[0]   # x 1.5
    assert up[0, 0, 0] == 150 and up[19, 0, 0] == 255
    down = apply(Variant("medmnist_c_contrast_down", 4), image)[0]  # 150 + .5 (x - 150)
    assert down[0, 0, 0] == 125 and down[19, 0, 0] == 175


# -- every new family: identity, determinism, batch, non-square ------------------------------------

@pytest.mark.parametrize("family", NEW)
def test_new_family_identity_batch_and_non_square(family):
    rng = np.random.default_rng(7)
    images = rng.integers(30, 220, (3, 40, 72, 3), dtype=np.uint8)
    ids = ["p", "q", "r"]
    assert np.array_equal(apply(Variant(family, 0), images, seed=3, image_ids=ids), images)
    v = Variant(family, 4)
    whole = apply(v, images, seed=3, image_ids=ids)
    assert whole.shape == images.shape and not np.array_equal(whole, images)
    assert whole.tobytes() == apply(v, images, seed=3, image_ids=ids).tobytes()
    for i in range(3):                             # each image alone gives the same bytes
        assert np.array_equal(apply(v, images[i:i + 1], seed=3, image_ids=ids[i:i + 1])[0], whole[i])
    if FAMILIES[family].stochastic:
        assert not np.array_equal(apply(v, images, seed=3, image_ids=["x", "q", "r"])[0], whole[0])
