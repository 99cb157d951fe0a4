"""White balance: the colour cast of light of another colour temperature, by von Kries adaptation.

A photograph white-balanced for daylight (6504 K) but lit by warmer (tungsten, sunset) or cooler
(shade, overcast) light takes on that light's colour. The cast is a von Kries scaling in the
Bradford cone space: linear sRGB -> XYZ -> Bradford LMS, each cone response scaled by the ratio of
the illuminants' responses, and back. Both whites are points of the Planckian locus (Kim et al.'s
cubic approximation, 1667-25000 K), so a zero shift is exactly the identity, and both have Y = 1, so
a white surface keeps its luminance. Shifts are in mireds (10^6 / K), the unit in which
photographers' correction gels are graded (an eighth CTO is about +20 mired, a half CTO +80):
+20, +40, +60, +90, +120 mired warmer (5757 K .. 3653 K) and -20, -40, -60, -80, -100 mired cooler
(7479 K .. 18622 K). Colours pushed beyond 1 in linear sRGB are clipped.
"""
from __future__ import annotations

import cv2
import numpy as np

from perturbations.spec import FamilySpec

REFERENCE_K = 6504.0

# Linear sRGB (D65) -> XYZ, IEC 61966-2-1.
_XYZ_FROM_RGB = np.array([[0.4124, 0.3576, 0.1805],
                          [0.2126, 0.7152, 0.0722],
                          [0.0193, 0.1192, 0.9505]])
# Bradford cone response matrix (Lam, 1985).
_BRADFORD = np.array([[0.8951, 0.2664, -0.1614],
                      [-0.7502, 1.7135, 0.0367],
                      [0.0389, -0.0685, 1.0296]])

_CODES = np.arange(256, dtype=np.float64) / 255.0
_TO_LINEAR = np.where(_CODES <= 0.04045, _CODES / 12.92, ((_CODES + 0.055) / 1.055) ** 2.4).astype(np.float32)


def planckian_xy(kelvin: float) -> tuple[float, float]:
    """CIE 1931 chromaticity of a black body (Kim et al., 2002, cubic spline), 1667..25000 K."""
    if not 1667.0 <= kelvin <= 25000.0:
        raise ValueError(f"kelvin: the approximation holds for 1667..25000 K, got {kelvin!r}")
    t = float(kelvin)
    if t <= 4000.0:
        x = -0.2661239e9 / t**3 - 0.2343589e6 / t**2 + 0.8776956e3 / t + 0.179910
    else:
        x = -3.0258469e9 / t**3 + 2.1070379e6 / t**2 + 0.2226347e3 / t + 0.240390
    if t <= 2222.0:
        y = -1.1063814 * x**3 - 1.34811020 * x**2 + 2.18555832 * x - 0.20219683
    elif t <= 4000.0:
        y = -0.9549476 * x**3 - 1.37418593 * x**2 + 2.09137015 * x - 0.16748867
    else:
        y = 3.0817580 * x**3 - 5.87338670 * x**2 + 3.75112997 * x - 0.37001483
    return x, y


def kelvin_for_shift(mired_shift: float) -> float:
    """Colour temperature ``mired_shift`` mireds away from the 6504 K reference (+ = warmer)."""
    return 1e6 / (1e6 / REFERENCE_K + float(mired_shift))


def adaptation_matrix(kelvin: float, reference_kelvin: float = REFERENCE_K) -> np.ndarray:
    """3 x 3 linear-sRGB matrix casting the reference white to the white of ``kelvin``."""
    def white_xyz(k: float) -> np.ndarray:
        x, y = planckian_xy(k)
        return np.array([x / y, 1.0, (1.0 - x - y) / y])

    lms_src = _BRADFORD @ white_xyz(reference_kelvin)
    lms_dst = _BRADFORD @ white_xyz(kelvin)
    cone = np.linalg.inv(_BRADFORD) @ np.diag(lms_dst / lms_src) @ _BRADFORD
    return np.linalg.inv(_XYZ_FROM_RGB) @ cone @ _XYZ_FROM_RGB


def _encode_srgb(linear: np.ndarray) -> np.ndarray:
    """Linear float32 in [0, 1] -> sRGB-encoded float32 in [0, 1]."""
    low = linear * np.float32(12.92)
    high = np.float32(1.055) * np.power(linear, np.float32(1.0 / 2.4)) - np.float32(0.055)
    return np.where(linear <= np.float32(0.0031308), low, high)


def shift_white_balance(images: np.ndarray, *, mired_shift: float) -> np.ndarray:
    """Cast each image as if lit ``mired_shift`` mireds warmer (+) or cooler (-) than 6504 K.

    Parameters
    ----------
    images : np.ndarray
        uint8 sRGB batch (N, H, W, 3).
    mired_shift : float
        Change of the light's colour temperature in mireds.

    Returns
    -------
    np.ndarray
        uint8 batch of the same shape.
    """
    m = adaptation_matrix(kelvin_for_shift(mired_shift)).astype(np.float32)
    shape = images.shape
    rows = np.ascontiguousarray(images).reshape(-1, shape[2], 3)
    linear = cv2.LUT(rows, _TO_LINEAR)
    cast = cv2.transform(linear, m)
    np.clip(cast, 0.0, 1.0, out=cast)
    return cv2.convertScaleAbs(_encode_srgb(cast), alpha=255.0).reshape(shape)


SPECS = [
    FamilySpec(
        name="white_balance_warm", kernel=shift_white_balance,
        summary=("warmer light (tungsten, sunset): von Kries colour cast of mired_shift mireds "
                 "from daylight"),
        table={1: {"mired_shift": 20.0}, 2: {"mired_shift": 40.0}, 3: {"mired_shift": 60.0},
               4: {"mired_shift": 90.0}, 5: {"mired_shift": 120.0}},
    ),
    FamilySpec(
        name="white_balance_cool", kernel=shift_white_balance,
        summary=("cooler light (shade, overcast): von Kries colour cast of mired_shift mireds from"
                 " daylight"),
        table={1: {"mired_shift": -20.0}, 2: {"mired_shift": -40.0}, 3: {"mired_shift": -60.0},
               4: {"mired_shift": -80.0}, 5: {"mired_shift": -100.0}},
    ),
]
