"""Motion blur: the camera (or the patient) moved along a straight line during the exposure.

The clinical family convolves with a uniform line segment of ``length_px`` pixels (constant speed
over the exposure), anti-aliased by bilinear splatting of 16 samples per pixel of length, at an
angle drawn per image from that image's own seeded generator (uniform in [0°, 180°)).
``magick_kernel`` is the ImageMagick motion blur used by ImageNet-C (see ``imagenet_c.py``): a
one-sided Gaussian trail of 2 * radius + 1 taps.
"""
from __future__ import annotations

import math

import cv2
import numpy as np

from perturbations.defocus import filter_batch
from perturbations.spec import FamilySpec

_SAMPLES_PER_PX = 16


def line_kernel(length_px: float, angle_deg: float) -> np.ndarray:
    """Anti-aliased uniform line of ``length_px`` pixels through the kernel centre, float32, sum 1.

    The angle is counter-clockwise from the +x axis as the image is displayed (rows grow down).
    """
    if length_px <= 0:
        raise ValueError(f"length_px: expected > 0, got {length_px!r}")
    half = int(math.ceil(length_px / 2.0)) + 1
    side = 2 * half + 1
    n = max(2, int(math.ceil(length_px * _SAMPLES_PER_PX)) + 1)
    t = np.linspace(-length_px / 2.0, length_px / 2.0, n)
    theta = math.radians(angle_deg)
    x = half + t * math.cos(theta)
    y = half - t * math.sin(theta)
    x0, y0 = np.floor(x).astype(int), np.floor(y).astype(int)
    fx, fy = x - x0, y - y0
    k = np.zeros((side, side), dtype=np.float64)
    np.add.at(k, (y0, x0), (1 - fx) * (1 - fy))
    np.add.at(k, (y0, x0 + 1), fx * (1 - fy))
    np.add.at(k, (y0 + 1, x0), (1 - fx) * fy)
    np.add.at(k, (y0 + 1, x0 + 1), fx * fy)
    return (k / k.sum()).astype(np.float32)


def magick_kernel(radius: int, sigma: float, angle_deg: float) -> np.ndarray:
    """ImageMagick's ``MotionBlurImage`` as a 2-D correlation kernel (float32, sum 1).

    ImageMagick (effect.c, by Andrew Protano) averages the pixels at offsets
    (ceil(i cos a - 0.5), ceil(i sin a - 0.5)), i = 0 .. 2 * radius, with weights
    exp(-i² / 2 sigma²) normalised; ImageNet-C calls it through Wand, and the
    ``imagecorruptions`` package (Michaelis et al., 2019) re-implements it in NumPy the same way.
    """
    width = 2 * int(radius) + 1
    i = np.arange(width, dtype=np.float64)
    weights = np.exp(-(i**2) / (2.0 * sigma**2))
    weights /= weights.sum()
    a = math.radians(angle_deg)
    ox = np.ceil(i * math.cos(a) - 0.5).astype(int)
    oy = np.ceil(i * math.sin(a) - 0.5).astype(int)
    half = width - 1
    k = np.zeros((2 * half + 1, 2 * half + 1), dtype=np.float64)
    np.add.at(k, (half + oy, half + ox), weights)
    return k.astype(np.float32)


def motion_blur(images: np.ndarray, *, length_px: float, angle_deg: np.ndarray) -> np.ndarray:
    """Blur image i along a straight line of ``length_px`` pixels at ``angle_deg[i]`` degrees.

    Parameters
    ----------
    images : np.ndarray
        uint8 sRGB batch (N, H, W, 3).
    length_px : float
        Length of the motion path in pixels.
    angle_deg : np.ndarray
        (N,) direction per image (drawn by the family's sampler).

    Returns
    -------
    np.ndarray
        uint8 batch of the same shape (borders mirrored, ``BORDER_REFLECT_101``).
    """
    out = np.empty_like(images)
    for i, image in enumerate(images):
        out[i] = filter_batch(image[None], line_kernel(length_px, float(angle_deg[i])))[0]
    return out


def magick_motion_blur(images: np.ndarray, *, radius: int, sigma: float, angle_deg: np.ndarray) -> np.ndarray:
    """ImageNet-C motion blur: ``magick_kernel(radius, sigma, angle_deg[i])``, edges replicated."""
    out = np.empty_like(images)
    for i, image in enumerate(images):
        k = magick_kernel(radius, sigma, float(angle_deg[i]))
        out[i] = filter_batch(image[None], k, border=cv2.BORDER_REPLICATE)[0]
    return out


def sample_angle(low: float, high: float):
    """A sampler drawing one angle per image, uniform in [low, high), from that image's seed."""

    def sample(params, seeds: np.ndarray) -> dict:
        angles = np.array([np.random.default_rng(int(s)).uniform(low, high) for s in seeds], dtype=np.float64)
        return {"angle_deg": angles}

    return sample


SPECS = [
    FamilySpec(
        name="motion_blur", kernel=motion_blur, kind="blur", sample=sample_angle(0.0, 180.0),
        summary=("camera or patient moving: a straight streak of length_px pixels at an angle "
                 "drawn per image"),
        table={1: {"length_px": 3.0}, 2: {"length_px": 5.0}, 3: {"length_px": 7.0},
               4: {"length_px": 10.0}, 5: {"length_px": 14.0}},
    ),
]
