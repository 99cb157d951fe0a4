"""Contrast: scale CIELAB lightness about the image's mean lightness, chroma unchanged.

L* -> m + k (L* - m), with m the mean L* over the whole image and a*, b* kept. Lightness contrast
is what flat or harsh lighting and exposure curves change in a photograph; doing it in L* keeps the
mean lightness and the hue of every pixel, where an sRGB contrast about the channel means (the
ImageNet-C choice, see ``imagenet_c.py``) also shifts colours towards the image's mean colour.
Colours pushed out of gamut (most often by ``contrast_up``) are clipped in sRGB.
"""
from __future__ import annotations

import numpy as np

from perturbations.spec import FamilySpec
from subgroups.lab import lab_to_rgb, rgb_to_lab


def scale_contrast(images: np.ndarray, *, factor: float, lab: np.ndarray | None = None) -> np.ndarray:
    """L* -> m + ``factor`` (L* - m) per image, m = the image's mean L*; a*, b* kept.

    Parameters
    ----------
    images : np.ndarray
        uint8 sRGB batch (N, H, W, 3).
    factor : float
        Contrast multiplier (< 1 flatter, > 1 harsher).
    lab : np.ndarray, optional
        The batch's float32 CIELAB when already computed; not modified.

    Returns
    -------
    np.ndarray
        uint8 batch of the same shape.
    """
    lab = rgb_to_lab(images) if lab is None else lab.copy()
    L = lab[..., 0]
    mean = L.mean(axis=(1, 2), dtype=np.float64).astype(np.float32)[:, None, None]
    k = np.float32(factor)
    L -= mean
    L *= k
    L += mean
    return lab_to_rgb(lab)


SPECS = [
    FamilySpec(
        name="contrast_down", kernel=scale_contrast, uses_lab=True, version=2,
        summary=("flatter lighting: L* pulled towards the image's mean L* by factor (below 1), a* "
                 "and b* kept"),
        table={1: {"factor": 0.9}, 2: {"factor": 0.8}, 3: {"factor": 0.7},
               4: {"factor": 0.6}, 5: {"factor": 0.5}},
    ),
    FamilySpec(
        name="contrast_up", kernel=scale_contrast, uses_lab=True, version=2,
        summary=("harsher lighting: L* pushed away from the image's mean L* by factor (above 1), "
                 "a* and b* kept"),
        table={1: {"factor": 1.1}, 2: {"factor": 1.2}, 3: {"factor": 1.3},
               4: {"factor": 1.4}, 5: {"factor": 1.5}},
    ),
]
