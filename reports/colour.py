"""Colour swatches for skin tones: CIELAB (D65) to sRGB, and a typical skin colour for an ITA.

ITA = atan2(L* - 50, b*) * 180 / pi fixes only a direction in the (b*, L*) plane. To paint a swatch
for an ITA alone, the colour is placed on a typical skin locus (b* about 12 on very light and very
dark skin, up to about 20 on tanned skin; a* about 10), which is what measured skin looks like
(Chardon et al. 1991; Del Bino et al. 2006). Where a run measured the median L* and b* of a group,
those are used instead.
"""
from __future__ import annotations

import math

import numpy as np

# D65 reference white (2 degree observer), as CIE 15 gives it.
_XN, _YN, _ZN = 0.95047, 1.0, 1.08883
_M_XYZ_TO_LINEAR_SRGB = np.array([
    [3.2404542, -1.5371385, -0.4985314],
    [-0.9692660, 1.8760108, 0.0415560],
    [0.0556434, -0.2040259, 1.0572252],
])
#: a* used when only L* and b* are known (healthy skin sits around 8-14).
TYPICAL_A = 10.0


def lab_to_srgb(lab: np.ndarray) -> np.ndarray:
    """CIELAB (D65) -> sRGB uint8, clipped to the gamut. ``lab`` has shape (..., 3)."""
    lab = np.asarray(lab, dtype=float)
    L, a, b = lab[..., 0], lab[..., 1], lab[..., 2]
    fy = (L + 16.0) / 116.0
    fx = fy + a / 500.0
    fz = fy - b / 200.0
    eps, kappa = 216.0 / 24389.0, 24389.0 / 27.0

    def finv(f):
        f3 = f ** 3
        return np.where(f3 > eps, f3, (116.0 * f - 16.0) / kappa)

    xyz = np.stack([finv(fx) * _XN, np.where(L > kappa * eps, fy ** 3, L / kappa) * _YN,
                    finv(fz) * _ZN], axis=-1)
    lin = xyz @ _M_XYZ_TO_LINEAR_SRGB.T
    lin = np.clip(lin, 0.0, 1.0)
    srgb = np.where(lin <= 0.0031308, 12.92 * lin, 1.055 * np.power(lin, 1 / 2.4) - 0.055)
    return np.clip(np.round(srgb * 255.0), 0, 255).astype(np.uint8)


def skin_lab_for_ita(ita: float) -> tuple[float, float, float]:
    """A typical skin colour (L*, a*, b*) whose ITA is ``ita`` degrees."""
    theta = math.radians(max(-89.0, min(89.0, float(ita))))
    b = 12.0 + 8.0 * math.cos(theta) ** 2  # ~20 around ITA 0 (tanned), ~12 at the extremes
    L = 50.0 + b * math.tan(theta)
    L = max(12.0, min(95.0, L))
    return L, TYPICAL_A, b


def hex_colour(rgb) -> str:
    """(r, g, b) uint8 -> ``#rrggbb``."""
    r, g, b = (int(v) for v in rgb)
    return f"#{r:02x}{g:02x}{b:02x}"


def swatch(*, ita: float | None = None, L: float | None = None, b: float | None = None,
           a: float = TYPICAL_A) -> str | None:
    """``#rrggbb`` of skin with the measured L*, b* (a* typical), else of the typical skin at ``ita``.

    Returns None when neither is known.
    """
    if L is not None and b is not None and math.isfinite(L) and math.isfinite(b):
        lab = (L, a, b)
    elif ita is not None and math.isfinite(ita):
        lab = skin_lab_for_ita(ita)
    else:
        return None
    return hex_colour(lab_to_srgb(np.asarray(lab)))
