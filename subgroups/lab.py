"""CIELAB (D65) conversion through OpenCV, with its 8-bit scaling undone.

OpenCV's ``COLOR_RGB2Lab`` on uint8 input returns ``L*·255/100``, ``a* + 128`` and ``b* + 128``
(sRGB companding, D65 white), about 30 times faster than ``skimage.color.rgb2lab``. On float32 RGB
in [0, 1] it returns real L*a*b*. Both paths agree with scikit-image to within the 8-bit rounding
(checked in ``tests/test_subgroups_lab.py``).
"""
from __future__ import annotations

import cv2
import numpy as np

__all__ = ["L_SCALE", "ita_degrees", "lab8_to_lab", "rgb_to_lab", "rgb_to_lab8"]

#: Multiply OpenCV's 8-bit L channel by this to get L* in [0, 100].
L_SCALE = 100.0 / 255.0


def _as_rgb_uint8(images: np.ndarray) -> np.ndarray:
    images = np.asarray(images)
    if images.dtype != np.uint8:
        raise TypeError(f"expected uint8 RGB images, got dtype {images.dtype}")
    if images.ndim < 3 or images.shape[-1] != 3:
        raise ValueError(f"expected (..., H, W, 3) RGB images, got shape {images.shape}")
    return images


def rgb_to_lab8(images: np.ndarray) -> np.ndarray:
    """OpenCV 8-bit Lab codes of uint8 RGB images, any leading shape.

    Parameters
    ----------
    images : (..., H, W, 3) uint8 RGB.

    Returns
    -------
    (..., H, W, 3) uint8: ``L*·255/100``, ``a* + 128``, ``b* + 128`` (rounded).
    """
    images = _as_rgb_uint8(images)
    shape = images.shape
    flat = np.ascontiguousarray(images.reshape(-1, shape[-2], 3))
    if flat.shape[0] == 0:
        return np.zeros(shape, np.uint8)
    return cv2.cvtColor(flat, cv2.COLOR_RGB2Lab).reshape(shape)


def lab8_to_lab(lab8: np.ndarray) -> np.ndarray:
    """Real L*a*b* (float32) from OpenCV's 8-bit codes."""
    lab8 = np.asarray(lab8)
    out = lab8.astype(np.float32)
    out[..., 0] *= np.float32(L_SCALE)
    out[..., 1:] -= np.float32(128.0)
    return out


def rgb_to_lab(images: np.ndarray, *, exact: bool = False) -> np.ndarray:
    """Real CIELAB (D65) of uint8 RGB images.

    Parameters
    ----------
    images : (..., H, W, 3) uint8 RGB.
    exact : False converts through 8-bit codes (fastest; L* to 0.4, a*/b* to 1 unit); True
        converts float32 RGB in [0, 1] (real L*a*b* without the 8-bit rounding, ~3x slower).

    Returns
    -------
    (..., H, W, 3) float32 L* in [0, 100], a*, b*.
    """
    images = _as_rgb_uint8(images)
    if not exact:
        return lab8_to_lab(rgb_to_lab8(images))
    shape = images.shape
    flat = images.reshape(-1, shape[-2], 3).astype(np.float32) * np.float32(1.0 / 255.0)
    if flat.shape[0] == 0:
        return np.zeros(shape, np.float32)
    return cv2.cvtColor(flat, cv2.COLOR_RGB2Lab).reshape(shape)


def ita_degrees(L: np.ndarray | float, b: np.ndarray | float) -> np.ndarray | float:
    """Individual Typology Angle ``atan2(L* - 50, b*)`` in degrees (elementwise)."""
    return np.degrees(np.arctan2(np.asarray(L, dtype=np.float64) - 50.0, np.asarray(b, dtype=np.float64)))
