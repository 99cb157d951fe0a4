"""Defocus blur: convolution with a disk (the image of an out-of-focus point through a lens).

The clinical family uses an anti-aliased disk of the given radius in pixels: each kernel cell
weighs the fraction of its area inside the circle (16 x 16 supersampling), normalised to sum 1.
``imagenet_c_disk`` is the disk of Hendrycks & Dietterich's ImageNet-C (see ``imagenet_c.py``).
Borders are mirrored (``BORDER_REFLECT_101``).
"""
from __future__ import annotations

import math

import cv2
import numpy as np

from perturbations.spec import FamilySpec

_SUPERSAMPLE = 16


def disk_kernel(radius_px: float) -> np.ndarray:
    """Anti-aliased disk of ``radius_px`` pixels: float32 (2R+1, 2R+1), R = ceil(radius), sum 1."""
    if radius_px <= 0:
        raise ValueError(f"radius_px: expected > 0, got {radius_px!r}")
    half = int(math.ceil(radius_px))
    side = 2 * half + 1
    s = _SUPERSAMPLE
    centres = (np.arange(side * s, dtype=np.float64) + 0.5) / s - (half + 0.5)
    yy, xx = np.meshgrid(centres, centres, indexing="ij")
    inside = (xx**2 + yy**2 <= radius_px**2).astype(np.float64)
    cover = inside.reshape(side, s, side, s).mean(axis=(1, 3))
    return (cover / cover.sum()).astype(np.float32)


def imagenet_c_disk(radius: float, alias_blur: float) -> np.ndarray:
    """ImageNet-C's defocus disk (Hendrycks & Dietterich, 2019, ``make_imagenet_c.py``: ``disk``).

    An aliased disk on a grid of at least -8..8 (wider for radius > 8), normalised, then smoothed
    by a 3 x 3 (radius <= 8) or 5 x 5 Gaussian of sigma ``alias_blur``. That blur reflects at the
    grid's edge, so for radius 8 and 10 (where the disk touches the edge) the kernel sums to about
    1.01 and brightens the image by up to 1%; kept, as in the original.
    """
    if radius <= 8:
        grid = np.arange(-8, 8 + 1)
        ksize = (3, 3)
    else:
        grid = np.arange(-radius, radius + 1)
        ksize = (5, 5)
    xx, yy = np.meshgrid(grid, grid)
    aliased = np.array((xx**2 + yy**2) <= radius**2, dtype=np.float32)
    aliased /= np.sum(aliased)
    return cv2.GaussianBlur(aliased, ksize=ksize, sigmaX=alias_blur)


def filter_batch(images: np.ndarray, kernel: np.ndarray, *, border: int = cv2.BORDER_REFLECT_101) -> np.ndarray:
    """Correlate every image with one 2-D ``kernel`` (float32), result rounded to uint8."""
    out = np.empty_like(images)
    for i, image in enumerate(images):
        out[i] = cv2.filter2D(image, -1, kernel, borderType=border)
    return out


def defocus_blur(images: np.ndarray, *, radius_px: float) -> np.ndarray:
    """Convolve each image with an anti-aliased disk of ``radius_px`` pixels.

    Parameters
    ----------
    images : np.ndarray
        uint8 sRGB batch (N, H, W, 3).
    radius_px : float
        Radius of the blur disk (circle of confusion) in pixels.

    Returns
    -------
    np.ndarray
        uint8 batch of the same shape.
    """
    return filter_batch(images, disk_kernel(radius_px))


SPECS = [
    FamilySpec(
        name="defocus_blur", kernel=defocus_blur, kind="blur",
        summary="lens out of focus: convolution with an anti-aliased disk of radius_px pixels",
        table={1: {"radius_px": 1.0}, 2: {"radius_px": 1.5}, 3: {"radius_px": 2.0},
               4: {"radius_px": 3.0}, 5: {"radius_px": 4.0}},
    ),
]
