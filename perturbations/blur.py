"""Gaussian blur: sigma in pixels of the image as given (the model's input size in an audit).

Slight focus error, hand shake averaged over an exposure, and the softening of an upscaled or
denoised phone photograph all act roughly as a Gaussian low-pass. The kernel is OpenCV's Gaussian
(``getGaussianKernel``, as in ``GaussianBlur``) with an explicit size 2 * ceil(4 sigma) + 1 (the
support of SciPy's ``gaussian_filter`` with its default ``truncate=4``), applied separably with
``sepFilter2D`` (2-3x faster than ``GaussianBlur`` on uint8 for sigma >= 1.5, whose bit-exact
fixed-point path is slow for long kernels) and mirrored borders (``BORDER_REFLECT_101``, SciPy's
``mode="mirror"``). The result is within one level of SciPy's float result (tested).
"""
from __future__ import annotations

import math

import cv2
import numpy as np

from perturbations.spec import FamilySpec

BORDERS = {"reflect_101": cv2.BORDER_REFLECT_101, "replicate": cv2.BORDER_REPLICATE}


def gaussian_ksize(sigma_px: float, truncate: float = 4.0) -> int:
    """Odd kernel side covering ``truncate`` sigmas on each side."""
    return 2 * int(math.ceil(truncate * sigma_px)) + 1


def gaussian_blur(images: np.ndarray, *, sigma_px: float, border: str = "reflect_101") -> np.ndarray:
    """Blur each image with an isotropic Gaussian of ``sigma_px`` pixels.

    Parameters
    ----------
    images : np.ndarray
        uint8 sRGB batch (N, H, W, 3).
    sigma_px : float
        Standard deviation in pixels.
    border : str
        ``"reflect_101"`` (mirror without repeating the edge pixel) or ``"replicate"``.

    Returns
    -------
    np.ndarray
        uint8 batch of the same shape.
    """
    if border not in BORDERS:
        raise ValueError(f"border: expected one of {sorted(BORDERS)}, got {border!r}")
    g = cv2.getGaussianKernel(gaussian_ksize(sigma_px), sigma_px)  # float64, sums to 1
    out = np.empty_like(images)
    for i, image in enumerate(images):
        out[i] = cv2.sepFilter2D(image, -1, g, g, borderType=BORDERS[border])
    return out


SPECS = [
    FamilySpec(
        name="blur", kernel=gaussian_blur, kind="blur",
        summary=("focus error or hand shake: Gaussian blur of sigma_px pixels at the model's input"
                 " size"),
        table={1: {"sigma_px": 0.5}, 2: {"sigma_px": 1.0}, 3: {"sigma_px": 1.5},
               4: {"sigma_px": 2.0}, 5: {"sigma_px": 3.0}},
    ),
]
