"""Healthy-skin mask: known ITA on synthetic skin, lesions excluded, DermNet watermark excluded."""
from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from harness.demo.synthetic import render_synthetic
from subgroups import estimate_skin_tone, lesion_mask, load_config, skin_mask

SETTINGS = load_config()


@pytest.fixture(scope="module")
def synthetic():
    # lesions, shading, uneven light, noise, hair, glints and background strips all on
    return render_synthetic(n=120, size=224, seed=21)


def test_ita_of_synthetic_skin_within_two_degrees(synthetic):
    tone = estimate_skin_tone(synthetic.images, settings=SETTINGS, workers=1)
    err = np.abs(tone["ita"].to_numpy() - synthetic.meta["ita_true"].to_numpy())
    assert np.isfinite(err).all()
    assert np.median(err) <= 2.0
    assert np.percentile(err, 75) <= 4.0
    assert (tone["group"] != "unknown").mean() >= 0.95


def test_mask_excludes_lesion_pixels(synthetic):
    masks = np.stack([skin_mask(im, settings=SETTINGS) for im in synthetic.images])
    lesion = synthetic.lesion
    pooled = 1.0 - (masks & lesion).sum() / lesion.sum()
    per_image = 1.0 - (masks & lesion).sum((1, 2)) / np.maximum(lesion.sum((1, 2)), 1)
    assert pooled >= 0.90
    assert np.median(per_image) >= 0.90
    # ... while keeping most of the truly healthy skin, and little else
    kept = (masks & synthetic.skin).sum((1, 2)) / synthetic.skin.sum((1, 2))
    precision = (masks & synthetic.skin).sum((1, 2)) / np.maximum(masks.sum((1, 2)), 1)
    assert np.median(kept) >= 0.6
    assert np.median(precision) >= 0.7


def test_lesion_mask_finds_erythema(synthetic):
    found = np.stack([lesion_mask(im, settings=SETTINGS) for im in synthetic.images[:40]])
    truth = synthetic.lesion[:40]
    recall = (found & truth).sum((1, 2)) / np.maximum(truth.sum((1, 2)), 1)
    precision = (found & truth).sum((1, 2)) / np.maximum(found.sum((1, 2)), 1)
    assert np.median(recall) >= 0.8 and np.median(precision) >= 0.8


def test_masks_are_pure_and_shaped_like_the_image():
    img = render_synthetic(n=1, size=100, seed=3).images[0][:, :90]
    a, b = skin_mask(img, settings=SETTINGS), skin_mask(img.copy(), settings=SETTINGS)
    assert a.shape == (100, 90) and a.dtype == bool and np.array_equal(a, b)
    blue = np.zeros((64, 64, 3), np.uint8)
    blue[..., 2] = 200
    assert not skin_mask(blue, settings=SETTINGS).any()  # a blue drape is not skin



def _lab_to_rgb(L: float, a: float, b: float) -> np.ndarray:
    lab = np.array([[[L * 255 / 100, a + 128, b + 128]]], np.uint8)
    return cv2.cvtColor(lab, cv2.COLOR_Lab2RGB)[0, 0]


@pytest.mark.parametrize("wall_hue", [-45.0, -60.0, -75.0])
def test_a_lavender_wall_redder_than_the_skin_is_not_lesion(wall_hue):
    # pale skin (a* 2, b* 10) in the middle, a lavender wall around it whose a* (about 7) is well
    # above the skin's: a* alone would call the wall erythema; its blue hue says it is not
    rng = np.random.default_rng(0)
    img = np.empty((128, 128, 3), np.uint8)
    chroma = 18.0
    img[:] = _lab_to_rgb(50.0, chroma * np.cos(np.radians(wall_hue)),
                         chroma * np.sin(np.radians(wall_hue)))
    img[32:96, 32:96] = _lab_to_rgb(72.0, 2.0, 10.0)
    img[56:72, 56:72] = _lab_to_rgb(62.0, 16.0, 12.0)  # a patch of erythema on the skin
    img = np.clip(img + rng.normal(0, 1.0, img.shape), 0, 255).astype(np.uint8)
    lesion = lesion_mask(img, settings=SETTINGS)
    wall = np.ones((128, 128), bool)
    wall[24:104, 24:104] = False
    assert lesion[wall].mean() < 0.01
    assert lesion[58:70, 58:70].mean() > 0.9  # the erythema is still found
    assert skin_mask(img, settings=SETTINGS)[36:52, 36:92].mean() > 0.8

# -- DermNet NZ: every photograph carries a watermark in the lower left -------------------------

def _load_dermnet(folder: Path) -> np.ndarray:
    from harness.data.load import load_dataset

    return load_dataset(folder, size=(224, 224)).images


def _relatively_white(img: np.ndarray) -> np.ndarray:
    """Pixels clearly brighter than their neighbourhood and nearly colourless."""
    grey = cv2.cvtColor(img, cv2.COLOR_RGB2GRAY)
    local = cv2.medianBlur(grey, 9)
    spread = img.max(-1).astype(np.int16) - img.min(-1)
    return (grey.astype(np.int16) - local >= 25) & (spread <= 60)


def _watermark_templates(images: np.ndarray):
    """Locate the watermarks from the images themselves, independently of the mask under test.

    A watermark pixel is white relative to its surroundings in most images of one kind. DermNet
    uses two kinds: the striped "DermNet" logo, and the text "Te Whatu Ora / Health New Zealand".
    """
    white = np.stack([_relatively_white(im) for im in images])
    white[:, :112] = False   # lower half ...
    white[:, :, 112:] = False  # ... left half
    anywhere = white.mean(0) > 0.25
    logo_zone = anywhere.copy()
    logo_zone[175:] = False   # the logo sits above the line of text
    has_logo = white[:, logo_zone].mean(1) > 0.15
    logo = white[has_logo].mean(0) > 0.5
    text = white[~has_logo].mean(0) > 0.5
    return logo, text, has_logo


def test_dermnet_watermark_is_never_skin(dermnet_test):
    images = _load_dermnet(dermnet_test)
    logo, text, has_logo = _watermark_templates(images)
    # the test must find what it looks for: both kinds, in the lower left, each in many images
    assert logo.sum() >= 200 and text.sum() >= 200
    assert has_logo.sum() >= 20 and (~has_logo).sum() >= 10
    ys, xs = np.nonzero(logo | text)
    assert ys.min() >= 140 and xs.max() < 112
    leaks = {}
    for i, img in enumerate(images):
        template = logo if has_logo[i] else text
        n = int((skin_mask(img, settings=SETTINGS) & template).sum())
        if n:
            leaks[i] = n
    assert leaks == {}


def test_dermnet_watermark_is_never_skin_at_1024_px_either(dermnet_test):
    # the text window grows with the image (41 x 41 pixels at 1024 px): its stroke count must not
    # saturate at 8 bits, or text detection silently switches off on large images
    images = _load_dermnet(dermnet_test)
    logo, text, has_logo = _watermark_templates(images)
    leaks = {}
    for i in range(0, len(images), 4):
        big = cv2.resize(images[i], (1024, 1024), interpolation=cv2.INTER_CUBIC)
        template = cv2.resize((logo if has_logo[i] else text).view(np.uint8), (1024, 1024),
                              interpolation=cv2.INTER_NEAREST).astype(bool)
        n = int((skin_mask(big, settings=SETTINGS) & template).sum())
        if n > 0.01 * template.sum():
            leaks[i] = n
    assert leaks == {}
