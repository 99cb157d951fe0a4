"""Brightness: scale CIELAB lightness L* by a factor, chroma (a*, b*) unchanged.

Under- and over-exposure of a clinical photograph changes how light the skin reads while its hue
stays put; scaling L* with a* and b* fixed says exactly that in a perceptual space, unlike adding
to sRGB values (which also desaturates) or to HSV value (ImageNet-C, see ``imagenet_c.py``).
Colours pushed out of the sRGB gamut are clipped per channel; the achieved ΔL* is measured.
"""
from __future__ import annotations

import numpy as np

from perturbations.spec import FamilySpec
from subgroups.lab import lab_to_rgb, rgb_to_lab


def scale_lightness(images: np.ndarray, *, L_factor: float, lab: np.ndarray | None = None) -> np.ndarray:
    """L* -> ``L_factor`` * L*, a* and b* kept.

    Parameters
    ----------
    images : np.ndarray
        uint8 sRGB batch (N, H, W, 3).
    L_factor : float
        Multiplier of L* (< 1 darker, > 1 lighter).
    lab : np.ndarray, optional
        The batch's float32 CIELAB (from ``rgb_to_lab``) when already computed; not modified.

    Returns
    -------
    np.ndarray
        uint8 batch of the same shape.
    """
    lab = rgb_to_lab(images) if lab is None else lab.copy()
    lab[..., 0] *= np.float32(L_factor)
    return lab_to_rgb(lab)


SPECS = [
    FamilySpec(
        name="brightness_down", kernel=scale_lightness, uses_lab=True, version=2,
        summary=("under-exposure: CIELAB lightness L* times L_factor (below 1), a* and b* (the "
                 "hue) kept"),
        table={1: {"L_factor": 0.9}, 2: {"L_factor": 0.8}, 3: {"L_factor": 0.7},
               4: {"L_factor": 0.6}, 5: {"L_factor": 0.5}},
    ),
    FamilySpec(
        name="brightness_up", kernel=scale_lightness, uses_lab=True, version=2,
        summary=("over-exposure: CIELAB lightness L* times L_factor (above 1), a* and b* (the hue)"
                 " kept"),
        table={1: {"L_factor": 1.1}, 2: {"L_factor": 1.2}, 3: {"L_factor": 1.3},
               4: {"L_factor": 1.4}, 5: {"L_factor": 1.5}},
    ),
]
