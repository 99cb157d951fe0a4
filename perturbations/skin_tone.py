"""Skin tone: move the skin's individual typology angle (ITA) along a realistic L*/b* path.

ITA = atan2(L* - 50, b*) is the angle of a skin colour about the point (L* = 50, b* = 0) of the
L*-b* plane. Measured skin colours from very light to dark lie at roughly the same distance from
that point (about 20 units: light skin is high L* with moderate b*, tanned and brown skin lower L*
with higher b*, dark skin low L* with b* falling back), so the path taken here is the arc of
constant radius through the image's mean skin colour: the target colour is
(50 + r sin ITA', r cos ITA') with r = hypot(L*0 - 50, b*0) and ITA' = ITA0 + Δ, held inside
[-60°, 70°], the span of measured skin.

Every pixel of the region gets the same additive (ΔL*, Δb*), so a lesion keeps its colour
difference to the surrounding skin (a* is unchanged). The skin colour is the mean over the mask
(skin and lesion; the whole image when None). The region moved is that mask with gaps closed and
enclosed holes filled (``region.fill_region``, closing radius 3% of the shorter side), so hair,
creases, highlights and lesions inside the skin move with it, and its edge is feathered as for
redness. An image whose mean b* is not positive has no skin-like colour to move and is
returned unchanged. Severities 1..5 ask for |Δ| = 5°, 10°, 20°, 30°, 40° towards darker
(``skin_tone_darker``, lower ITA) or lighter (``skin_tone_lighter``) skin; what was achieved after
clipping and the range limit is measured (ΔITA).
"""
from __future__ import annotations

import numpy as np

from perturbations.region import check_masks, feather_sigma, feather_weights, fill_region, masked_mean
from perturbations.spec import FamilySpec
from subgroups.lab import lab_to_rgb, rgb_to_lab

FEATHER_FRAC = 0.01
CLOSE_FRAC = 0.03
ITA_RANGE_DEG = (-60.0, 70.0)


def target_shift(L0: np.ndarray, b0: np.ndarray, dITA_deg: float) -> tuple[np.ndarray, np.ndarray]:
    """Per-image (ΔL*, Δb*) moving mean skin colour (L0, b0) by ``dITA_deg`` along the arc.

    Images with b0 <= 0 or an undefined mean (empty mask) get (0, 0).
    """
    L0 = np.asarray(L0, dtype=np.float64)
    b0 = np.asarray(b0, dtype=np.float64)
    ok = np.isfinite(L0) & np.isfinite(b0) & (b0 > 0)
    L0s, b0s = np.where(ok, L0, 50.0), np.where(ok, b0, 1.0)
    r = np.hypot(L0s - 50.0, b0s)
    ita0 = np.degrees(np.arctan2(L0s - 50.0, b0s))
    lo, hi = ITA_RANGE_DEG
    wanted = ita0 + dITA_deg
    # Never push an image already outside the range further out, and never pull it back in.
    if dITA_deg < 0:
        ita1 = np.maximum(wanted, np.minimum(ita0, lo))
    else:
        ita1 = np.minimum(wanted, np.maximum(ita0, hi))
    t = np.radians(ita1)
    dL = np.where(ok, 50.0 + r * np.sin(t) - L0s, 0.0)
    db = np.where(ok, r * np.cos(t) - b0s, 0.0)
    return dL, db


def shift_skin_tone(images: np.ndarray, *, dITA_deg: float, feather_frac: float = FEATHER_FRAC,
                    masks: np.ndarray | None = None, lab: np.ndarray | None = None) -> np.ndarray:
    """Move each image's skin ITA by ``dITA_deg`` (negative = darker) inside ``masks``.

    Parameters
    ----------
    images : np.ndarray
        uint8 sRGB batch (N, H, W, 3).
    dITA_deg : float
        Requested change of ITA in degrees.
    feather_frac : float
        Feather sigma as a fraction of the image's shorter side.
    masks : np.ndarray, optional
        bool (N, H, W) skin (and lesion) region per image; None = the whole image. Its gaps and
        enclosed holes are filled before the shift (see the module docstring).
    lab : np.ndarray, optional
        The batch's float32 CIELAB when already computed; not modified.

    Returns
    -------
    np.ndarray
        uint8 batch; pixels where the feathered weight is 0 are the input's bytes.
    """
    masks = check_masks(masks, images)
    lab = rgb_to_lab(images) if lab is None else lab.copy()
    mean = masked_mean(lab, masks)
    dL, db = target_shift(mean[:, 0], mean[:, 2], dITA_deg)
    dL = dL.astype(np.float32)[:, None, None]
    db = db.astype(np.float32)[:, None, None]
    h, w_px = images.shape[1:3]
    region = fill_region(masks, close_px=max(1, round(CLOSE_FRAC * min(h, w_px))))
    w = feather_weights(region, sigma_px=feather_sigma(h, w_px, feather_frac))
    if w is None:
        lab[..., 0] += dL
        lab[..., 2] += db
        return lab_to_rgb(lab)
    lab[..., 0] += dL * w
    lab[..., 2] += db * w
    out = lab_to_rgb(lab)
    untouched = w == 0
    out[untouched] = images[untouched]
    return out


_DEGREES = (5.0, 10.0, 20.0, 30.0, 40.0)

SPECS = [
    FamilySpec(
        name="skin_tone_darker", kernel=shift_skin_tone, uses_lab=True, version=2, uses_mask=True,
        summary=("darker skin: the skin's ITA moved by dITA_deg degrees along measured skin "
                 "colours (lesion contrast kept), feathered edge"),
        table={k: {"dITA_deg": -d, "feather_frac": FEATHER_FRAC} for k, d in zip(range(1, 6), _DEGREES)},
    ),
    FamilySpec(
        name="skin_tone_lighter", kernel=shift_skin_tone, uses_lab=True, version=2, uses_mask=True,
        summary=("lighter skin: the skin's ITA moved by dITA_deg degrees along measured skin "
                 "colours (lesion contrast kept), feathered edge"),
        table={k: {"dITA_deg": d, "feather_frac": FEATHER_FRAC} for k, d in zip(range(1, 6), _DEGREES)},
    ),
]
