"""ImageNet-C families against the formulas of Hendrycks & Dietterich's make_imagenet_c.py.

The references below follow their code's steps (scikit-image HSV, float images in [0, 1], their
disk, ImageMagick's motion blur as re-implemented by the imagecorruptions package, Pillow JPEG);
ours must agree within one 8-bit level (their pipeline truncates where ours rounds).
"""
from __future__ import annotations

import io
import math

import cv2
import numpy as np
import pytest
from PIL import Image
from skimage import color

from perturbation_refs import dermnet_files, load_images
from perturbations import Variant, apply
from perturbations.defocus import imagenet_c_disk
from perturbations.motion import magick_motion_blur


@pytest.fixture(scope="module")
def photos(dermnet_test) -> np.ndarray:
    return load_images(dermnet_files(dermnet_test, 3))


def _close(ours: np.ndarray, ref_float255: np.ndarray, max_diff: float = 1.0) -> None:
    diff = np.abs(ours.astype(np.float64) - ref_float255)
    assert diff.max() <= max_diff, diff.max()


@pytest.mark.parametrize("severity", range(1, 6))
def test_brightness_is_hsv_value_plus_c(photos, severity):
    c = [0.1, 0.2, 0.3, 0.4, 0.5][severity - 1]
    assert Variant("imagenet_c_brightness", severity).requested == {"value_shift": c}
    out = apply(Variant("imagenet_c_brightness", severity), photos)
    for i, im in enumerate(photos):
        hsv = color.rgb2hsv(im / 255.0)
        hsv[:, :, 2] = np.clip(hsv[:, :, 2] + c, 0, 1)
        _close(out[i], np.clip(color.hsv2rgb(hsv), 0, 1) * 255)


@pytest.mark.parametrize("severity", range(1, 6))
def test_contrast_is_about_the_channel_means(photos, severity):
    c = [0.4, 0.3, 0.2, 0.1, 0.05][severity - 1]
    out = apply(Variant("imagenet_c_contrast", severity), photos)
    for i, im in enumerate(photos):
        x = im / 255.0
        means = np.mean(x, axis=(0, 1), keepdims=True)
        _close(out[i], np.clip((x - means) * c + means, 0, 1) * 255)


@pytest.mark.parametrize("severity", range(1, 6))
def test_defocus_is_their_disk(photos, severity):
    radius, alias = [(3, 0.1), (4, 0.5), (6, 0.5), (8, 0.5), (10, 0.5)][severity - 1]
    out = apply(Variant("imagenet_c_defocus_blur", severity), photos)
    kernel = imagenet_c_disk(radius, alias)
    # their anti-aliasing blur reflects at the grid's edge: at radius >= 8 the disk sums to > 1
    assert kernel.sum() == pytest.approx(1.0, abs=0.02)
    for i, im in enumerate(photos):
        x = im / 255.0
        ref = np.stack([cv2.filter2D(x[:, :, d].astype(np.float32), -1, kernel) for d in range(3)], axis=-1)
        _close(out[i], np.clip(ref, 0, 1) * 255)


def _shift(image: np.ndarray, dx: int, dy: int) -> np.ndarray:
    """Translate with edge replication: result[y, x] = image[y - dy, x - dx] (clamped)."""
    h, w = image.shape[:2]
    ys = np.clip(np.arange(h) - dy, 0, h - 1)
    xs = np.clip(np.arange(w) - dx, 0, w - 1)
    return image[ys][:, xs]


@pytest.mark.parametrize("radius,sigma,angle", [(10, 3.0, 20.0), (15, 8.0, -40.0), (20, 15.0, 5.0)])
def test_motion_blur_matches_the_shift_and_add_reference(photos, radius, sigma, angle):
    width = 2 * radius + 1
    weights = np.exp(-np.arange(width) ** 2 / (2 * sigma**2))
    weights /= weights.sum()
    ours = magick_motion_blur(photos[:1], radius=radius, sigma=sigma, angle_deg=np.array([angle]))[0]
    x = photos[0].astype(np.float64)
    ref = np.zeros_like(x)
    for i in range(width):
        dy = -math.ceil(i * math.sin(math.radians(angle)) - 0.5)
        dx = -math.ceil(i * math.cos(math.radians(angle)) - 0.5)
        ref += weights[i] * _shift(x, dx, dy)
    _close(ours, ref)


def test_motion_blur_angles_are_drawn_in_plus_minus_45(photos):
    from perturbations.registry import FAMILIES, image_seeds

    spec = FAMILIES["imagenet_c_motion_blur"]
    angles = spec.sample(spec.table[1], image_seeds(0, spec.name, 1, range(200)))["angle_deg"]
    assert angles.min() >= -45 and angles.max() < 45 and angles.std() > 20


@pytest.mark.parametrize("severity", [1, 5])
def test_jpeg_quality_matches_pillow(photos, severity):
    q = [25, 18, 15, 10, 7][severity - 1]
    out = apply(Variant("imagenet_c_jpeg", severity), photos)
    for i, im in enumerate(photos):
        buf = io.BytesIO()
        Image.fromarray(im).save(buf, "JPEG", quality=q)
        ref = np.asarray(Image.open(buf).convert("RGB")).astype(np.float64)
        assert np.abs(out[i] - ref).mean() < 0.5
