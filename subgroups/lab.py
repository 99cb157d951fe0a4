"""CIELAB (D65) of sRGB images, and back: the one colour conversion of DermaTrace.

Skin tone (the mask, ITA and its spread, the Fitzpatrick features) and the perturbation ladder
(its CIELAB families and what they achieved, ΔL*, Δa*, ΔITA) all convert here, so that a group's
ITA and the ΔITA a perturbation achieved are measured on the same scale. The perturbations import
this module, not the other way round: the ladder comes after the skin-tone stage and reads its
definitions (ITA among them), as every stage reads the one before it.

The conversion is the textbook one (IEC 61966-2-1 sRGB, its D65 matrix, CIE 1976 L*a*b* with the
D65 white of the 2° observer), with scikit-image's constants, computed in float32 with OpenCV's
vectorised primitives: uint8 -> linear RGB by an exact 256-entry table, a 3 x 3 matrix, the cube
root. It agrees with ``skimage.color.rgb2lab`` to 4e-5 in L* and 2e-4 in a* and b* over every
8-bit colour (``tests/test_subgroups_lab.py``), and :func:`lab_to_rgb` turns the L*a*b* of every
8-bit colour back into exactly that colour. OpenCV's own conversions are not used: on 8-bit input
it returns 8-bit codes (L* in steps of 0.39, a* and b* rounded, up to 2.5 units off in a*), and on
float input it approximates the sRGB curve and the cube root (up to 0.19 off in L* and 0.47 in
a*; its round trip changes 2% of all colours). The price: about 0.7 ms of CPU per 224 x 224 image
forward and 0.9 ms back, about twice OpenCV's float conversion (``bench/bench_perturbations.py``
times the ladder).

Out-of-gamut colours are clipped per channel in linear RGB by :func:`lab_to_rgb`; what a
perturbation achieved after that clipping is measured, never assumed.
"""
from __future__ import annotations

import cv2
import numpy as np

__all__ = ["ita_degrees", "lab_to_rgb", "rgb_to_lab"]

# sRGB (IEC 61966-2-1) decoding of every 8-bit value, as OpenCV's lookup-table layout wants it.
_CODES = np.arange(256, dtype=np.float64) / 255.0
_LINEAR = np.where(_CODES <= 0.04045, _CODES / 12.92,
                   ((_CODES + 0.055) / 1.055) ** 2.4).astype(np.float32).reshape(1, 256, 1)
# linear sRGB -> XYZ (D65), each row divided by the white point's coordinate (scikit-image's values)
_XYZ_FROM_RGB = np.array([[0.412453, 0.357580, 0.180423],
                          [0.212671, 0.715160, 0.072169],
                          [0.019334, 0.119193, 0.950227]])
_WHITE_D65 = np.array([0.95047, 1.0, 1.08883])
_TO_XYZN = (_XYZ_FROM_RGB / _WHITE_D65[:, None]).astype(np.float32)
_FROM_XYZN = np.linalg.inv(_XYZ_FROM_RGB / _WHITE_D65[:, None]).astype(np.float32)
# CIE f(t) = t^(1/3) above (6/29)^3, the tangent line t / (3 (6/29)^2) + 4/29 below it
_DELTA = 6.0 / 29.0
_T_KNEE = _DELTA ** 3
_SLOPE = 1.0 / (3.0 * _DELTA ** 2)
_OFFSET = 4.0 / 29.0
# (fx, fy, fz) -> (L*, a*, b*) and back, as affine 3 x 4 matrices for cv2.transform
_LAB_FROM_F = np.array([[0.0, 116.0, 0.0, -16.0],
                        [500.0, -500.0, 0.0, 0.0],
                        [0.0, 200.0, -200.0, 0.0]], np.float32)
_F_FROM_LAB = np.array([[1 / 116, 1 / 500, 0.0, 16 / 116],
                        [1 / 116, 0.0, 0.0, 16 / 116],
                        [1 / 116, 0.0, -1 / 200, 16 / 116]], np.float32)
# sRGB encoding: 12.92 x up to this linear value, 1.055 x^(1/2.4) - 0.055 above
_ENCODE_KNEE = 0.0031308


def _check_images(images: np.ndarray) -> np.ndarray:
    images = np.asarray(images)
    if images.dtype != np.uint8:
        raise TypeError(f"images: expected uint8 sRGB, got dtype {images.dtype}")
    if images.ndim < 3 or images.shape[-1] != 3:
        raise ValueError(f"images: expected (..., H, W, 3) RGB, got shape {images.shape}")
    return images


def _rows(a: np.ndarray) -> np.ndarray:
    """(..., H, W, 3) -> one (rows, W, 3) image for single OpenCV calls (a view when contiguous)."""
    a = np.ascontiguousarray(a)
    return a.reshape(-1, a.shape[-2], 3)


def _flat(a: np.ndarray) -> np.ndarray:
    """A (rows, W, 3) array as one channel (rows, 3 W), for element-wise OpenCV calls."""
    return a.reshape(a.shape[0], -1)


def _below(x: np.ndarray, knee: float, low: np.ndarray, out: np.ndarray) -> None:
    """``out[x <= knee] = low[x <= knee]`` element-wise, skipped when no element is that low."""
    if cv2.minMaxLoc(_flat(x))[0] <= knee:
        cv2.copyTo(_flat(low), cv2.compare(_flat(x), float(knee), cv2.CMP_LE), _flat(out))


def rgb_to_lab(images: np.ndarray) -> np.ndarray:
    """CIELAB (D65) of uint8 sRGB images, any leading shape.

    Parameters
    ----------
    images : np.ndarray
        uint8 (..., H, W, 3), RGB channel order.

    Returns
    -------
    np.ndarray
        float32 of the same shape: L* in [0, 100], a* and b* (about -86..98 and -108..94 for
        sRGB colours).
    """
    images = _check_images(images)
    shape = images.shape
    if images.size == 0:
        return np.zeros(shape, np.float32)
    t = cv2.transform(cv2.LUT(_rows(images), _LINEAR), _TO_XYZN)
    f = cv2.pow(t, 1.0 / 3.0)
    _below(t, _T_KNEE, t * np.float32(_SLOPE) + np.float32(_OFFSET), f)
    return cv2.transform(f, _LAB_FROM_F).reshape(shape)


def lab_to_rgb(lab: np.ndarray) -> np.ndarray:
    """uint8 sRGB of CIELAB (D65) values (..., H, W, 3); out-of-gamut colours clipped per channel.

    The inverse of :func:`rgb_to_lab`: ``lab_to_rgb(rgb_to_lab(x))`` is ``x`` for every uint8
    colour. Rounds to the nearest level.
    """
    lab = np.asarray(lab)
    if lab.ndim < 3 or lab.shape[-1] != 3:
        raise ValueError(f"lab: expected (..., H, W, 3) L*a*b*, got shape {lab.shape}")
    shape = lab.shape
    if lab.size == 0:
        return np.zeros(shape, np.uint8)
    f = cv2.transform(_rows(lab.astype(np.float32, copy=False)), _F_FROM_LAB)
    t = cv2.pow(f, 3.0)
    _below(f, _DELTA, (f - np.float32(_OFFSET)) * np.float32(1.0 / _SLOPE), t)
    linear = cv2.transform(t, _FROM_XYZN)
    np.clip(linear, 0.0, 1.0, out=linear)
    encoded = cv2.pow(linear, 1.0 / 2.4)
    encoded *= np.float32(1.055 * 255.0)
    encoded -= np.float32(0.055 * 255.0)
    _below(linear, _ENCODE_KNEE, linear * np.float32(12.92 * 255.0), encoded)
    return cv2.convertScaleAbs(encoded).reshape(shape)


def ita_degrees(L: np.ndarray | float, b: np.ndarray | float) -> np.ndarray:
    """Individual typology angle ITA = atan2(L* - 50, b*) in degrees (Chardon et al., 1991),
    element-wise, float64."""
    return np.degrees(np.arctan2(np.asarray(L, dtype=np.float64) - 50.0, np.asarray(b, dtype=np.float64)))
