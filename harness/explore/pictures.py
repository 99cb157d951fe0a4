"""The explorer's pictures: a heatmap over its image (the report's overlay), a mask over its
image. Pure numpy; each returns a uint8 RGB array."""
from __future__ import annotations

import numpy as np

from harness.explain.overlays import overlay

#: Healthy skin is tinted green, the lesion magenta.
SKIN_COLOUR = (0, 200, 80)
LESION_COLOUR = (230, 0, 200)


def heatmap_overlay(image: np.ndarray, heatmap: np.ndarray | None) -> np.ndarray:
    """The heatmap in the JET colour map over ``image`` (the image itself when there is none)."""
    return image.copy() if heatmap is None else overlay(image, heatmap)


def mask_overlay(image: np.ndarray, skin: np.ndarray, lesion: np.ndarray, *,
                 alpha: float = 0.45) -> np.ndarray:
    """``image`` with the healthy-skin mask tinted green and the lesion mask magenta; the rest
    dimmed, so that what the skin-tone estimate read stands out."""
    out = image.astype(np.float32) * 0.55
    for mask, colour in ((skin, SKIN_COLOUR), (lesion, LESION_COLOUR)):
        m = np.asarray(mask, dtype=bool)
        tint = image.astype(np.float32)[m] * (1 - alpha) + np.asarray(colour, np.float32) * alpha
        out[m] = tint
    return np.clip(out + 0.5, 0, 255).astype(np.uint8)
