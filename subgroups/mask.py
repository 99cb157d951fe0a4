"""Healthy-skin and lesion masks from one RGB image.

A pixel counts as healthy skin when it

1. lies inside the image, away from its border (frames, vignetting, scanner edges);
2. has a skin colour: hue angle ``atan2(b*, a*)`` between ``hue_min`` and ``hue_max`` degrees,
   chroma at least ``chroma_min``, L* within ``[L_min, L_max]`` (drops drapes, paper, gloves,
   black and white backgrounds, specular highlights);
3. is not part of a thin bright structure (white top-hat of L*: glints, scale, text strokes) nor a
   thin dark one (black top-hat: hair, pen marks, deep creases); where bright strokes are packed
   densely (text and logos such as DermNet NZ's watermark) or a pixel is nearly colourless white
   (paper, glare), the whole neighbourhood goes, with a ``halo``. When these fixed thresholds
   leave almost nothing (a grainy or very rough photograph), they rise to the image's own
   ``texture_percentile`` of top-hat values;
4. is not lesion: erythema raises a* at a nearly unchanged b*, so pixels whose a* exceeds the
   image's own reference skin a* (the ``ref_percentile`` of a* over the candidates) by more than
   ``max(red_min, red_k`` robust sigmas of healthy a*) are lesion, provided their hue is no bluer
   than ``lesion_hue_min`` (violaceous erythema on dark skin sits near -20 degrees; a lavender
   wall or a blue drape near -45 to -70 degrees is never lesion); pixels far darker than the candidates' median L* (shadow, pigmented
   lesion) or far brighter (glare) are dropped too.

The colour tests read the image's CIELAB from ``subgroups.lab`` binned to 8-bit codes
(:func:`lab_codes`: L* in steps of 100/255, a* and b* in whole units, offset by 128), so that they
are lookup tables and integer histograms (a few milliseconds for a 224 px image); the bins are
finer than any threshold here. ITA itself is computed from the unbinned values
(``subgroups.ita``). The parameters are ``subgroups.settings.MaskParams``; the values in use are
in ``configs/skin_tone.yaml``, passed in by the caller.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass

import cv2
import numpy as np

from subgroups.lab import rgb_to_lab
from subgroups.settings import MaskParams, SkinToneConfig

__all__ = [
    "L_SCALE",
    "MaskResult",
    "analyse_image",
    "count",
    "lab_codes",
    "lesion_mask",
    "masked_percentiles",
    "percentiles_from_counts",
    "skin_mask",
]

#: L* of one step of the L code (codes 0..255 span L* 0..100).
L_SCALE = 100.0 / 255.0
# L*, a*, b* -> code: L* / L_SCALE, a* + 128, b* + 128 (rounded and saturated by convertScaleAbs)
_TO_CODES = np.array([[1.0 / L_SCALE, 0.0, 0.0, 0.0],
                      [0.0, 1.0, 0.0, 128.0],
                      [0.0, 0.0, 1.0, 128.0]], np.float32)


def lab_codes(lab: np.ndarray) -> np.ndarray:
    """8-bit bins of CIELAB values (..., H, W, 3) float -> uint8: ``round(L*/L_SCALE)``,
    ``round(a*) + 128``, ``round(b*) + 128`` (every sRGB colour's a* and b* fit in 0..255)."""
    shape = lab.shape
    if lab.size == 0:
        return np.zeros(shape, np.uint8)
    rows = np.ascontiguousarray(lab, dtype=np.float32).reshape(-1, shape[-2], 3)
    return cv2.convertScaleAbs(cv2.transform(rows, _TO_CODES)).reshape(shape)


@dataclass(frozen=True)
class MaskResult:
    """What ``analyse_image`` found in one image."""

    lab: np.ndarray         # (H, W, 3) float32 CIELAB of the image
    codes: np.ndarray       # (H, W, 3) uint8 ``lab_codes(lab)``
    skin: np.ndarray        # (H, W) bool healthy skin
    lesion: np.ndarray      # (H, W) bool erythema / lesion
    candidate: np.ndarray   # (H, W) bool skin-coloured, before lesion and outlier removal
    inside: np.ndarray      # (H, W) bool the image without its border
    planes: tuple = ()      # (L8, a8, b8) contiguous uint8 planes of ``codes`` (when known)


def masked_percentiles(codes: np.ndarray, mask: np.ndarray, q: list[float]) -> list[float]:
    """Percentiles of a contiguous 2-D uint8 array over a bool mask (OpenCV histogram); NaN when
    the mask is empty."""
    counts = cv2.calcHist([codes], [0], mask.view(np.uint8), [256], [0, 256]).ravel()
    return _percentiles(counts, q)


def _percentiles(counts: np.ndarray, q: list[float]) -> list[float]:
    """Scalar-loop version of ``percentiles_from_counts`` for a few percentiles (less overhead)."""
    cum = np.cumsum(counts, dtype=np.float64)
    n = float(cum[-1])
    if n <= 0:
        return [float("nan")] * len(q)
    out = []
    for qq in q:
        target = qq / 100.0 * n
        idx = min(int(np.searchsorted(cum, target, side="left")), len(counts) - 1)
        prev = float(cum[idx - 1]) if idx > 0 else 0.0
        inbin = float(counts[idx])
        frac = (target - prev) / inbin if inbin > 0 else 0.5
        out.append(idx + min(max(frac, 0.0), 1.0) - 0.5)
    return out


def count(mask: np.ndarray) -> int:
    """Number of True pixels of a 2-D bool mask."""
    return int(cv2.countNonZero(mask.view(np.uint8)))


def percentiles_from_counts(counts: np.ndarray, q: np.ndarray) -> np.ndarray:
    """Percentiles from a histogram over integer codes 0..len(counts)-1 (bin centres)."""
    n = counts.sum()
    if n <= 0:
        return np.full(np.shape(q), np.nan)
    cum = np.cumsum(counts)
    target = np.asarray(q, dtype=np.float64) / 100.0 * n
    idx = np.searchsorted(cum, target, side="left").clip(0, len(counts) - 1)
    prev = np.where(idx > 0, cum[np.maximum(idx - 1, 0)], 0.0)
    inbin = counts[idx]
    frac = np.where(inbin > 0, (target - prev) / np.maximum(inbin, 1e-12), 0.5)
    return idx + np.clip(frac, 0.0, 1.0) - 0.5


# distance between the 5th and 30th percentiles of a normal distribution, in sigmas
_Z_SPREAD = 1.1205


def _odd(x: float) -> int:
    k = max(1, round(x))
    return k if k % 2 == 1 else k + 1


@functools.lru_cache(maxsize=16)
def _luts(p: MaskParams) -> tuple[np.ndarray, np.ndarray]:
    """Bit-flag lookup tables for the colour tests of ``p``.

    ``ab[(a8 << 8) | b8]``: 1 skin hue and chroma, 2 nearly colourless, 4 may be erythema.
    ``L[L8]``: 1 L* within [L_min, L_max], 2 L* above white_L.
    """
    codes = np.arange(256, dtype=np.float64)
    a, b = np.meshgrid(codes - 128.0, codes - 128.0, indexing="ij")
    chroma = np.hypot(a, b)
    hue = np.degrees(np.arctan2(b, a))  # -180..180: pale pink skin sits just below 0
    skin_ab = (chroma >= p.chroma_min) & (hue >= p.hue_min) & (hue <= p.hue_max)
    pale = chroma < p.white_chroma
    lesionable = (chroma >= p.chroma_min) & (hue >= p.lesion_hue_min) & (hue < p.hue_max)
    ab = (skin_ab * 1 + pale * 2 + lesionable * 4).astype(np.uint8).ravel()
    Lv = codes * L_SCALE
    lut_L = (((Lv >= p.L_min) & (Lv <= p.L_max)) * 1 + (Lv > p.white_L) * 2).astype(np.uint8)
    return ab, lut_L


def _structures(tophat: np.ndarray, blackhat: np.ndarray, nearwhite: np.ndarray, t_white: float,
                t_black: float, p: MaskParams, short: int) -> np.ndarray:
    """Pixels that are thin bright or dark structures, text/logo blocks or white, with halos."""
    bright = tophat > t_white
    # text and logos: bright strokes packed densely; very bright colourless pixels (paper, logos,
    # glare) are never skin. Both are dropped with a halo around them.
    d = _odd(p.text_window * short)
    # int32 counts: an 8-bit sum would saturate at 255 once the window passes 15 x 15 pixels
    strokes = cv2.boxFilter(bright.view(np.uint8), cv2.CV_32S, (d, d), normalize=False,
                            borderType=cv2.BORDER_REFLECT)
    block = ((strokes > p.text_density * d * d) | nearwhite).view(np.uint8)
    h = _odd(2 * p.halo * short + 1)
    if h > 1:
        block = cv2.dilate(block, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (h, h)))
    return bright | (blackhat > t_black) | block.view(bool)


def analyse_image(image: np.ndarray, params: MaskParams, *,
                  lab: np.ndarray | None = None) -> MaskResult:
    """Healthy-skin, lesion and candidate masks of one uint8 RGB image (H, W, 3).

    Parameters
    ----------
    image : (H, W, 3) uint8 RGB.
    params : the mask's parameters (``settings.mask``).
    lab : the image's CIELAB (``subgroups.lab.rgb_to_lab``) when it is already computed.
    """
    p = params
    if image.ndim != 3 or image.shape[-1] != 3:
        raise ValueError(f"expected one (H, W, 3) RGB image, got shape {image.shape}")
    H, W = image.shape[:2]
    if lab is None:
        lab = rgb_to_lab(image)
    codes = lab_codes(lab)
    L8, a8, b8 = cv2.split(codes)
    short = min(H, W)
    lut_ab, lut_L = _luts(p)

    # 1. border
    inside = np.zeros((H, W), bool)
    m = round(p.border * short)
    inside[m:H - m if m else H, m:W - m if m else W] = True

    # 2. skin colour (lookup tables over the 8-bit codes)
    ab_index = a8.astype(np.uint16)
    ab_index <<= 8
    ab_index |= b8
    ab_flags = lut_ab.take(ab_index)
    L_flags = cv2.LUT(L8, lut_L)
    colour = (ab_flags & L_flags & 1).view(bool)

    # 3. thin bright / dark structures
    k = _odd(p.tophat_size * short)
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (k, k))
    tophat = cv2.morphologyEx(L8, cv2.MORPH_TOPHAT, kernel)
    blackhat = cv2.morphologyEx(L8, cv2.MORPH_BLACKHAT, kernel)
    nearwhite = (ab_flags & L_flags & 2).astype(bool)
    t_white, t_black = p.white_tophat / L_SCALE, p.black_tophat / L_SCALE
    candidate = inside & colour & ~_structures(tophat, blackhat, nearwhite, t_white, t_black, p, short)
    if p.texture_percentile < 100 and count(candidate) < p.texture_fallback * candidate.size:
        # a grainy or rough photograph: top-hats are high everywhere. Let the thresholds rise to
        # the image's own ``texture_percentile`` so that only its strongest structures count.
        t_white = max(t_white, masked_percentiles(tophat, inside, [p.texture_percentile])[0])
        t_black = max(t_black, masked_percentiles(blackhat, inside, [p.texture_percentile])[0])
        candidate = inside & colour & ~_structures(tophat, blackhat, nearwhite, t_white, t_black, p, short)

    # 4. lesion and outliers, relative to this image's own skin
    lesion = np.zeros((H, W), bool)
    skin = candidate
    if count(candidate):
        a_lo, a_ref = (v - 128.0 for v in masked_percentiles(
            a8, candidate, [p.ref_percentile - 25.0, p.ref_percentile]))
        L_med = masked_percentiles(L8, candidate, [50.0])[0] * L_SCALE
        sigma = max(a_ref - a_lo, 0.0) / _Z_SPREAD
        cut8 = a_ref + max(p.red_min, p.red_k * sigma) + 128.0
        red = a8 > cut8
        lesion = inside & red & (ab_flags & 4).astype(bool)
        lo8, hi8 = (L_med - p.dark_delta) / L_SCALE, (L_med + p.bright_delta) / L_SCALE
        skin = candidate & ~red & (L8 >= lo8) & (L8 <= hi8)
    if p.open_size > 1:
        ker = np.ones((p.open_size, p.open_size), np.uint8)
        skin = cv2.morphologyEx(skin.view(np.uint8), cv2.MORPH_OPEN, ker).view(bool)
        lesion = cv2.morphologyEx(lesion.view(np.uint8), cv2.MORPH_OPEN, ker).view(bool)
    return MaskResult(lab=lab, codes=codes, skin=skin, lesion=lesion, candidate=candidate,
                      inside=inside, planes=(L8, a8, b8))


def skin_mask(image: np.ndarray, *, settings: SkinToneConfig) -> np.ndarray:
    """(H, W) bool healthy-skin mask of one uint8 RGB image (H, W, 3).

    Parameters
    ----------
    image : (H, W, 3) uint8 RGB.
    settings : the skin-tone settings (``subgroups.load_config()``, or an audit config's
        ``skin_tone``); their ``mask`` parameters are used.
    """
    return analyse_image(image, settings.mask).skin


def lesion_mask(image: np.ndarray, *, settings: SkinToneConfig) -> np.ndarray:
    """(H, W) bool lesion mask (erythema: a* well above the image's healthy skin) of one image;
    ``settings`` as for :func:`skin_mask`."""
    return analyse_image(image, settings.mask).lesion
