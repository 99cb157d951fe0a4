"""Redness (erythema): raise CIELAB a* inside the skin/lesion region, darkening L* a little.

Inflammation raises a* (redder) and lowers L* slightly; here Δa* = +2, +4, +6, +9, +12 with
ΔL* = -0.25 Δa* at severities 1..5, b* unchanged. The change is made in full inside the mask and
fades over a feathered edge (``region.feather_weights``, sigma = 1% of the shorter image side);
pixels beyond the feather are returned bit-identical. Without masks the whole image is reddened.
How readily a given Δa* is seen, and classified, depends on the skin's own colour: that is the
point of measuring it per skin-tone group.
"""
from __future__ import annotations

import numpy as np

from perturbations.region import check_masks, feather_sigma, feather_weights
from perturbations.spec import FamilySpec
from subgroups.lab import lab_to_rgb, rgb_to_lab

FEATHER_FRAC = 0.01


def add_redness(images: np.ndarray, *, da: float, dL: float, feather_frac: float = FEATHER_FRAC,
                masks: np.ndarray | None = None, lab: np.ndarray | None = None) -> np.ndarray:
    """Add ``da`` to a* and ``dL`` to L* inside ``masks`` (feathered), b* kept.

    Parameters
    ----------
    images : np.ndarray
        uint8 sRGB batch (N, H, W, 3).
    da, dL : float
        Change of a* and of L* inside the region.
    feather_frac : float
        Feather sigma as a fraction of the image's shorter side.
    masks : np.ndarray, optional
        bool (N, H, W) region per image; None = the whole image.
    lab : np.ndarray, optional
        The batch's float32 CIELAB when already computed; not modified.

    Returns
    -------
    np.ndarray
        uint8 batch; pixels where the feathered weight is 0 are the input's bytes.
    """
    masks = check_masks(masks, images)
    lab = rgb_to_lab(images) if lab is None else lab.copy()
    w = feather_weights(masks, sigma_px=feather_sigma(images.shape[1], images.shape[2], feather_frac))
    if w is None:
        lab[..., 0] += np.float32(dL)
        lab[..., 1] += np.float32(da)
        return lab_to_rgb(lab)
    lab[..., 0] += np.float32(dL) * w
    lab[..., 1] += np.float32(da) * w
    out = lab_to_rgb(lab)
    untouched = w == 0
    out[untouched] = images[untouched]
    return out


SPECS = [
    FamilySpec(
        name="redness", kernel=add_redness, uses_lab=True, version=2, uses_mask=True,
        summary=("erythema: CIELAB a* + da and L* + dL in the skin/lesion region, faded over an "
                 "edge of feather_frac of the shorter image side"),
        table={k: {"da": da, "dL": -0.25 * da, "feather_frac": FEATHER_FRAC}
               for k, da in zip(range(1, 6), (2.0, 4.0, 6.0, 9.0, 12.0))},
    ),
]
