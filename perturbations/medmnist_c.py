"""MedMNIST-C's DermaMNIST corruptions where they differ from DermaTrace's and ImageNet-C's tables.

Di Salvo, Doerrich & Ledig, "MedMNIST-C: Comprehensive benchmark and improved classifier
robustness by simulating realistic image corruptions", 2024 (arXiv 2406.17536); parameters from
``medmnistc/corruptions/registry.py`` (``dermamnist``) and formulas from ``compression.py``,
``filter.py`` and ``enhance.py`` (github.com/francescodisalvo05/medmnistc-api), written here anew:

- JPEG: Pillow quality 30, 20, 15, 10, 7 (here OpenCV's libjpeg, 4:2:0 as Pillow's default);
- defocus blur: ImageNet-C's disk with (radius, alias blur) = (4, .1), (5, .2), (6, .3), (7, .4),
  (8, .5);
- motion blur: ImageMagick's with (radius, sigma) = (10, 5), (15, 5), (15, 8), (15, 12), (20, 15),
  angle uniform in [-45°, 45°) (ImageNet-C's but for sigma 5 at severity 1);
- brightness up / down: Pillow ``ImageEnhance.Brightness``, every sRGB value times 1.1 .. 1.5 /
  .9 .. .5 (clipped);
- contrast up / down: Pillow ``ImageEnhance.Contrast``, every sRGB value m + k (x - m), m the
  rounded mean of the image's Rec. 601 grey, k = 1.1, 1.2, 1.3, 1.4, 1.6 / .8, .7, .6, .5, .4.

Their zoom blur, pixelate, noises and characters are in ``digital.py`` and ``protocol_noise.py``.
Their black corners are a dermoscopy artefact (``black_corners``). DermaTrace's own
``brightness_*`` and ``contrast_*`` scale CIELAB L* (hue kept); these scale sRGB, as Pillow does.
"""
from __future__ import annotations

import numpy as np
from PIL import Image, ImageEnhance

from perturbations.imagenet_c import disk_defocus
from perturbations.jpeg import jpeg_roundtrip
from perturbations.motion import magick_motion_blur, sample_angle
from perturbations.protocol_noise import MEDMNIST_C
from perturbations.spec import FamilySpec

def _enhance(images: np.ndarray, enhancer, factor: float) -> np.ndarray:
    out = np.empty_like(images)
    for i, image in enumerate(images):
        out[i] = np.asarray(enhancer(Image.fromarray(image)).enhance(factor))
    return out


def pillow_brightness(images: np.ndarray, *, factor: float) -> np.ndarray:
    """Pillow's ``ImageEnhance.Brightness``: every sRGB value times ``factor``, rounded, clipped."""
    return _enhance(images, ImageEnhance.Brightness, factor)


def pillow_contrast(images: np.ndarray, *, factor: float) -> np.ndarray:
    """Pillow's ``ImageEnhance.Contrast``: x -> m + ``factor`` (x - m) per sRGB value, m the
    image's mean Rec. 601 grey level rounded to an integer; rounded, clipped."""
    return _enhance(images, ImageEnhance.Contrast, factor)


def _table(values):
    return {k: {"factor": v} for k, v in zip(range(1, 6), values)}


_WHO = "MedMNIST-C (DermaMNIST)"

SPECS = [
    FamilySpec(name="medmnist_c_jpeg", kernel=jpeg_roundtrip, kind="compression", credit=MEDMNIST_C,
               summary=f"{_WHO} JPEG compression: encode and decode at quality (0-100)",
               table={k: {"quality": q} for k, q in zip(range(1, 6), (30, 20, 15, 10, 7))}),
    FamilySpec(name="medmnist_c_defocus_blur", kernel=disk_defocus, kind="blur", credit=MEDMNIST_C,
               summary=f"{_WHO} defocus blur: ImageNet-C's disk of radius pixels, smoothed by alias_blur",
               table={k: {"radius": r, "alias_blur": a} for k, (r, a) in
                      zip(range(1, 6), ((4, 0.1), (5, 0.2), (6, 0.3), (7, 0.4), (8, 0.5)))}),
    FamilySpec(name="medmnist_c_motion_blur", kernel=magick_motion_blur, kind="blur", credit=MEDMNIST_C,
               sample=sample_angle(-45.0, 45.0),
               summary=(f"{_WHO} motion blur: ImageMagick's trail of radius pixels and sigma, at an "
                        "angle of -45 to 45 degrees drawn per image"),
               table={k: {"radius": r, "sigma": s} for k, (r, s) in
                      zip(range(1, 6), ((10, 5.0), (15, 5.0), (15, 8.0), (15, 12.0), (20, 15.0)))}),
    FamilySpec(name="medmnist_c_brightness_up", kernel=pillow_brightness, credit=MEDMNIST_C,
               summary=f"{_WHO} brightness up: every sRGB value times factor (Pillow), clipped",
               table=_table((1.1, 1.2, 1.3, 1.4, 1.5))),
    FamilySpec(name="medmnist_c_brightness_down", kernel=pillow_brightness, credit=MEDMNIST_C,
               summary=f"{_WHO} brightness down: every sRGB value times factor (Pillow)",
               table=_table((0.9, 0.8, 0.7, 0.6, 0.5))),
    FamilySpec(name="medmnist_c_contrast_up", kernel=pillow_contrast, credit=MEDMNIST_C,
               summary=(f"{_WHO} contrast up: sRGB values pushed from the image's mean grey by factor"
                        " (Pillow), clipped"),
               table=_table((1.1, 1.2, 1.3, 1.4, 1.6))),
    FamilySpec(name="medmnist_c_contrast_down", kernel=pillow_contrast, credit=MEDMNIST_C,
               summary=f"{_WHO} contrast down: sRGB values pulled to the image's mean grey by factor (Pillow)",
               table=_table((0.8, 0.7, 0.6, 0.5, 0.4))),
]
