"""ImageNet-C's corruptions, for comparison with the robustness literature.

Hendrycks & Dietterich, "Benchmarking Neural Network Robustness to Common Corruptions and
Perturbations", ICLR 2019; parameters and formulas from their ``make_imagenet_c.py``
(github.com/hendrycks/robustness, ``ImageNet-C/create_c``), written here anew:

- brightness: HSV value + c, c = .1, .2, .3, .4, .5, clipped (brightening only). With hue and
  saturation fixed, HSV -> RGB scales each pixel by V'/V, which is how it is computed here
  (a black pixel becomes grey V').
- contrast: (x - mean) * c + mean per channel, means over the image, c = .4, .3, .2, .1, .05.
- gaussian blur: sigma = 1, 2, 3, 4, 6 px (scikit-image ``gaussian``: 4-sigma support, edges
  replicated).
- defocus blur: their disk of (radius, alias blur) = (3, .1), (4, .5), (6, .5), (8, .5), (10, .5).
- motion blur: ImageMagick's motion blur with (radius, sigma) = (10, 3), (15, 5), (15, 8),
  (15, 12), (20, 15), at an angle uniform in [-45°, 45°) (here from each image's seeded generator).
- JPEG: quality 25, 18, 15, 10, 7.

Their parameters were chosen for 224 x 224 images; the pixel-sized ones act on the image as given.
Differences: values are rounded to nearest (their float output was truncated by ``np.uint8`` and
saved again as JPEG at quality 85, which is not done here), and JPEG goes through OpenCV's
libjpeg rather than Pillow's (both 4:2:0).
"""
from __future__ import annotations

import cv2
import numpy as np

from perturbations.blur import gaussian_blur
from perturbations.defocus import filter_batch, imagenet_c_disk
from perturbations.jpeg import jpeg_roundtrip
from perturbations.motion import magick_motion_blur, sample_angle
from perturbations.spec import FamilySpec

_INV255 = np.float32(1.0 / 255.0)


def to_float(images: np.ndarray) -> np.ndarray:
    """uint8 sRGB -> float32 sRGB in [0, 1], same shape."""
    return np.multiply(images, _INV255, dtype=np.float32)


def to_uint8(rgb: np.ndarray) -> np.ndarray:
    """float32 sRGB in [0, 1] -> uint8, rounded to nearest (ties to even) and saturated."""
    shape = rgb.shape
    flat = np.ascontiguousarray(rgb, dtype=np.float32).reshape(-1, shape[-2], shape[-1])
    return cv2.convertScaleAbs(flat, alpha=255.0).reshape(shape)


CREDIT = ("Hendrycks & Dietterich, ICLR 2019 (ImageNet-C), "
          "github.com/hendrycks/robustness ImageNet-C/create_c/make_imagenet_c.py")


def hsv_value_shift(images: np.ndarray, *, value_shift: float) -> np.ndarray:
    """ImageNet-C brightness: HSV V -> min(V + ``value_shift``, 1), hue and saturation kept."""
    x = to_float(images)
    v = x.max(axis=-1, keepdims=True)
    v_new = np.minimum(v + np.float32(value_shift), np.float32(1.0))
    with np.errstate(divide="ignore", invalid="ignore"):
        scaled = x * (v_new / v)
    out = np.where(v > 0, scaled, v_new)
    return to_uint8(np.clip(out, 0.0, 1.0))


def channel_contrast(images: np.ndarray, *, factor: float) -> np.ndarray:
    """ImageNet-C contrast: each channel -> mean + ``factor`` (x - mean), means per image."""
    x = to_float(images)
    means = x.mean(axis=(1, 2), keepdims=True, dtype=np.float64).astype(np.float32)
    out = (x - means) * np.float32(factor) + means
    return to_uint8(np.clip(out, 0.0, 1.0))


def disk_defocus(images: np.ndarray, *, radius: float, alias_blur: float) -> np.ndarray:
    """ImageNet-C defocus blur: correlation with ``imagenet_c_disk(radius, alias_blur)``."""
    return filter_batch(images, imagenet_c_disk(radius, alias_blur), border=cv2.BORDER_REFLECT_101)


def _table(key, values):
    return {k: {key: v} for k, v in zip(range(1, 6), values)}


SPECS = [
    FamilySpec(name="imagenet_c_brightness", kernel=hsv_value_shift, credit=CREDIT,
               summary=("ImageNet-C brightness: HSV value + value_shift (on a 0-1 scale), clipped;"
                        " hue and saturation kept"),
               table=_table("value_shift", (0.1, 0.2, 0.3, 0.4, 0.5))),
    FamilySpec(name="imagenet_c_contrast", kernel=channel_contrast, credit=CREDIT,
               summary="ImageNet-C contrast: each RGB channel about its image mean, times factor",
               table=_table("factor", (0.4, 0.3, 0.2, 0.1, 0.05))),
    FamilySpec(name="imagenet_c_gaussian_blur", kernel=gaussian_blur, kind="blur", credit=CREDIT,
               summary="ImageNet-C Gaussian blur: sigma_px pixels, edges replicated",
               table={k: {"sigma_px": s, "border": "replicate"}
                      for k, s in zip(range(1, 6), (1.0, 2.0, 3.0, 4.0, 6.0))}),
    FamilySpec(name="imagenet_c_defocus_blur", kernel=disk_defocus, kind="blur", credit=CREDIT,
               summary=("ImageNet-C defocus blur: their disk of radius pixels, smoothed by "
                        "alias_blur"),
               table={k: {"radius": r, "alias_blur": a}
                      for k, (r, a) in zip(range(1, 6), ((3, 0.1), (4, 0.5), (6, 0.5), (8, 0.5), (10, 0.5)))}),
    FamilySpec(name="imagenet_c_motion_blur", kernel=magick_motion_blur, kind="blur", credit=CREDIT,
               summary=("ImageNet-C motion blur: ImageMagick's trail of radius pixels and sigma, "
                        "at an angle of -45 to 45 degrees drawn per image"),
               sample=sample_angle(-45.0, 45.0),
               table={k: {"radius": r, "sigma": s}
                      for k, (r, s) in zip(range(1, 6), ((10, 3.0), (15, 5.0), (15, 8.0), (15, 12.0), (20, 15.0)))}),
    FamilySpec(name="imagenet_c_jpeg", kernel=jpeg_roundtrip, kind="compression", credit=CREDIT,
               summary="ImageNet-C JPEG compression: encode and decode at quality (0-100)",
               table=_table("quality", (25, 18, 15, 10, 7))),
]
