"""What a perturbation achieved, measured per image on the clean and perturbed pixels.

Requested parameters are what was asked; clipping at the sRGB gamut, the feathered edge of a
region and the image's own content decide what happened. Per image, over the mask (the whole
image when masks are None):

- ``dL``, ``da``, ``db``: change of the mean CIELAB L*, a*, b*;
- ``dITA``: change of the individual typology angle ITA = atan2(L* - 50, b*) in degrees, each
  computed from the mask's mean L* and b*;
- ``hf_loss``: the share of high-frequency energy lost, 1 - var(∇²L*_perturbed) / var(∇²L*_clean),
  with ∇² the 4-neighbour Laplacian (mirrored borders), its variance over the mask. 0 = unchanged, 1 = all
  detail gone; negative when detail was added (noise, JPEG blocking, harsher contrast). It is the
  measure that describes the blur families; ΔL*, Δa*, Δb*, ΔITA describe the colour families.
- ``area``: the share of the mask's pixels covered, those whose colour moved by ΔE*ab >= 10
  (CIE 1976 distance of clean and perturbed CIELAB; about four just-noticeable differences). It
  describes the occluding artefacts (hair, black corners, gel bubbles, a ruler, text): what they hide of
  the region, which is less than they were drawn over where they match the skin (dark hair on dark
  skin, black corners over an already dark border); an anti-aliased edge counts while its change
  is 10 or more, so a thin strand counts a fraction of a pixel wider than drawn on light skin.

CIELAB is ``subgroups.lab``'s, the conversion the skin-tone groups' ITA is measured with. NaN
marks an image whose mask is empty (or a flat clean image for ``hf_loss``).
"""
from __future__ import annotations

import cv2
import numpy as np

from perturbations.region import check_masks, masked_mean
from subgroups.lab import ita_degrees, rgb_to_lab

MEASURES = ("dL", "da", "db", "dITA", "hf_loss", "area")
#: Names the formulas above; change it whenever a cached measure could change.
MEASURE_VERSION = "measure-3"  # 3: + area; 2: the exact CIELAB of subgroups.lab (1: OpenCV float32)
#: ΔE*ab from which a pixel counts as covered (``area``).
COVERED_DELTA_E = 10.0


def _mask8(masks: np.ndarray | None, i: int) -> np.ndarray | None:
    return None if masks is None else masks[i].view(np.uint8)


def laplacian_variance(L: np.ndarray, masks: np.ndarray | None) -> np.ndarray:
    """Variance of the 4-neighbour Laplacian of L* (N, H, W) over each mask -> float64 (N,)."""
    out = np.full(len(L), np.nan)
    for i in range(len(L)):
        m = _mask8(masks, i)
        if m is None or m.any():
            lap = cv2.Laplacian(L[i], cv2.CV_32F, ksize=1, borderType=cv2.BORDER_REFLECT_101)
            _, std = cv2.meanStdDev(lap, mask=m)
            out[i] = float(std[0, 0]) ** 2
    return out


def wrap_degrees(d: np.ndarray) -> np.ndarray:
    """Angle differences into [-180, 180)."""
    return (np.asarray(d) + 180.0) % 360.0 - 180.0


def measure(clean_lab: np.ndarray, perturbed: np.ndarray, masks: np.ndarray | None,
            *, chunk: int = 8) -> dict[str, np.ndarray]:
    """:func:`perturbations.achieved` given the clean batch's CIELAB (``chunk`` images at a time)."""
    masks = check_masks(masks, perturbed)
    if clean_lab.shape != perturbed.shape:
        raise ValueError(f"perturbed: expected shape {clean_lab.shape}, got {perturbed.shape}")
    n = len(perturbed)
    mc, mp = np.empty((n, 3)), np.empty((n, 3))
    vc, vp, area = np.empty(n), np.empty(n), np.empty(n)
    for start in range(0, n, chunk):
        part = slice(start, start + chunk)
        m = None if masks is None else masks[part]
        pert_lab = rgb_to_lab(perturbed[part])
        mc[part] = masked_mean(clean_lab[part], m)
        mp[part] = masked_mean(pert_lab, m)
        vc[part] = laplacian_variance(np.ascontiguousarray(clean_lab[part, ..., 0]), m)
        vp[part] = laplacian_variance(np.ascontiguousarray(pert_lab[..., 0]), m)
        moved = np.sum((pert_lab - clean_lab[part]) ** 2, axis=-1) >= np.float32(COVERED_DELTA_E**2)
        area[part] = masked_mean(moved[..., None].astype(np.float32), m)[:, 0]
    d = mp - mc
    dita = wrap_degrees(ita_degrees(mp[:, 0], mp[:, 2]) - ita_degrees(mc[:, 0], mc[:, 2]))
    with np.errstate(divide="ignore", invalid="ignore"):
        hf = np.where(vc > 0, 1.0 - vp / vc, np.nan)
    return {"dL": d[:, 0], "da": d[:, 1], "db": d[:, 2], "dITA": dita, "hf_loss": hf, "area": area}
