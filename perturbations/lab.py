"""CIELAB (D65) conversions of uint8 sRGB batches through OpenCV, and the ITA of a colour.

OpenCV converts 8-bit images to an 8-bit Lab encoding (L* scaled by 255/100, a* and b* offset by
128), which quantises L* to steps of 0.39 and a*, b* to whole units (on DermNet photos: 0.27
mean and 2.3 largest error in a* against scikit-image's float64 CIELAB), and its 8-bit round trip
changes about half of all colours, saturated ones by up to tens of levels. Every perturbation here
therefore converts through float32 sRGB in [0, 1], where OpenCV returns true L* (0..100) and a*,
b* (about -128..127): within 0.08 of scikit-image on average and 0.4 at most, and the round trip of
a uint8 image is exact for more than 99% of pixels and one level off for the rest. The price is the
forward conversion, about twice as slow as the 8-bit one (the inverse costs the same either way);
:func:`perturbations.prepare` converts a batch once and lets every CIELAB family of a ladder reuse
it, and ``bench/bench_perturbations.py`` measures both.

Out-of-gamut colours are clipped in sRGB by OpenCV's Lab -> RGB conversion (each channel to
[0, 1]); what a perturbation achieved after that clipping is measured by
:func:`perturbations.achieved`, never assumed.
"""
from __future__ import annotations

import cv2
import numpy as np

_INV255 = np.float32(1.0 / 255.0)


def check_batch(images: np.ndarray) -> None:
    if not isinstance(images, np.ndarray):
        raise TypeError(f"images: expected a numpy array, got {type(images).__name__}")
    if images.dtype != np.uint8 or images.ndim != 4 or images.shape[-1] != 3:
        raise ValueError(
            "images: expected a uint8 batch of shape (N, H, W, 3), "
            f"got dtype {images.dtype} shape {images.shape}"
        )


def _rows(a: np.ndarray) -> np.ndarray:
    """(N, H, W, 3) -> one (N*H, W, 3) image for a single OpenCV call (a view when contiguous)."""
    a = np.ascontiguousarray(a)
    return a.reshape(-1, a.shape[-2], a.shape[-1])


def to_float(images: np.ndarray) -> np.ndarray:
    """uint8 sRGB -> float32 sRGB in [0, 1], same shape."""
    return np.multiply(images, _INV255, dtype=np.float32)


def to_uint8(rgb: np.ndarray) -> np.ndarray:
    """float32 sRGB in [0, 1] -> uint8, rounded to nearest (ties to even) and saturated."""
    shape = rgb.shape
    return cv2.convertScaleAbs(_rows(rgb.astype(np.float32, copy=False)), alpha=255.0).reshape(shape)


def rgb_to_lab(images: np.ndarray) -> np.ndarray:
    """uint8 sRGB batch (N, H, W, 3) -> float32 CIELAB (D65): L* in 0..100, a*, b* unscaled.

    Parameters
    ----------
    images : np.ndarray
        uint8 array (N, H, W, 3), RGB channel order.

    Returns
    -------
    np.ndarray
        float32 array of the same shape holding (L*, a*, b*).
    """
    check_batch(images)
    shape = images.shape
    return cv2.cvtColor(_rows(to_float(images)), cv2.COLOR_RGB2Lab).reshape(shape)


def lab_to_rgb(lab: np.ndarray) -> np.ndarray:
    """float32 CIELAB (N, H, W, 3) -> uint8 sRGB; out-of-gamut colours clipped per channel."""
    shape = lab.shape
    rgb = cv2.cvtColor(_rows(lab.astype(np.float32, copy=False)), cv2.COLOR_Lab2RGB)
    return cv2.convertScaleAbs(rgb, alpha=255.0).reshape(shape)


def ita_deg(L: np.ndarray | float, b: np.ndarray | float) -> np.ndarray:
    """Individual typology angle ITA = atan2(L* - 50, b*) in degrees (Chardon et al., 1991)."""
    return np.degrees(np.arctan2(np.asarray(L, dtype=np.float64) - 50.0, np.asarray(b, dtype=np.float64)))
