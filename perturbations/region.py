"""Where a regional perturbation acts: masks, their feathered weights, and means over them.

A regional family (redness, skin tone) changes the pixels of a region given as a boolean mask per
image, usually the skin and lesion region from ``subgroups``; without masks it acts on the whole
image. Its edge is feathered so that no seam appears: the mask is dilated by two feather sigmas
and blurred with a Gaussian of one feather sigma, and the result is raised to 1 inside the mask.
So the weight is exactly 1 inside the mask (the requested change is made there in full), falls
smoothly to 0 within about five sigmas outside it, and is exactly 0 further out, where pixels are
left bit-identical.
"""
from __future__ import annotations

import math

import cv2
import numpy as np


def check_masks(masks: np.ndarray | None, images: np.ndarray) -> np.ndarray | None:
    """Validate ``masks`` against ``images``: None or a bool array (N, H, W)."""
    if masks is None:
        return None
    masks = np.asarray(masks)
    if masks.shape != images.shape[:3]:
        raise ValueError(f"masks: expected shape {images.shape[:3]} (N, H, W), got {masks.shape}")
    if masks.dtype != bool:
        raise TypeError(f"masks: expected a bool array, got dtype {masks.dtype}")
    return masks


def feather_sigma(height: int, width: int, feather_frac: float) -> float:
    """Feather sigma in pixels: ``feather_frac`` of the image's shorter side, at least 0.5 px."""
    return max(0.5, float(feather_frac) * min(height, width))


def feather_weights(masks: np.ndarray | None, *, sigma_px: float) -> np.ndarray | None:
    """Feathered float32 weights (N, H, W) in [0, 1] for bool ``masks`` (None stays None).

    Parameters
    ----------
    masks : np.ndarray or None
        bool (N, H, W) region per image; None means the whole image (weight 1 everywhere).
    sigma_px : float
        Gaussian sigma of the feather in pixels.

    Returns
    -------
    np.ndarray or None
        Weights: 1 inside each mask, a Gaussian falloff outside it, exactly 0 beyond
        ``2 * sigma_px`` (dilation) plus ``3 * sigma_px`` (blur kernel radius), rounded up.
    """
    if masks is None:
        return None
    radius = int(math.ceil(2.0 * sigma_px))
    ksize = 2 * int(math.ceil(3.0 * sigma_px)) + 1
    disk = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius + 1, 2 * radius + 1))
    out = np.empty(masks.shape, dtype=np.float32)
    for i, mask in enumerate(masks):
        m8 = mask.astype(np.uint8)
        grown = cv2.dilate(m8, disk, borderType=cv2.BORDER_CONSTANT, borderValue=0)
        w = cv2.GaussianBlur(grown.astype(np.float32), (ksize, ksize), sigma_px,
                             borderType=cv2.BORDER_REFLECT_101)
        np.maximum(w, m8, out=w)
        np.minimum(w, 1.0, out=w)
        out[i] = w
    return out


def fill_region(masks: np.ndarray | None, *, close_px: int) -> np.ndarray | None:
    """Close gaps up to about ``2 * close_px`` wide and fill enclosed holes of each mask.

    A healthy-skin mask leaves out hair, creases, highlights and (without a lesion mask) the
    lesion itself; a perturbation that moves the whole skin must move those too, or they show as
    blotches. Holes that touch the image border are not enclosed and stay out.
    """
    if masks is None:
        return None
    disk = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * close_px + 1, 2 * close_px + 1))
    out = np.empty_like(masks)
    for i, mask in enumerate(masks):
        closed = cv2.morphologyEx(mask.astype(np.uint8), cv2.MORPH_CLOSE, disk,
                                  borderType=cv2.BORDER_CONSTANT, borderValue=0)
        # background reachable from outside the image: pad with a background ring, flood it
        padded = np.pad(1 - closed, 1, constant_values=1)
        flood = np.zeros((padded.shape[0] + 2, padded.shape[1] + 2), np.uint8)
        cv2.floodFill(padded, flood, (0, 0), 2)
        out[i] = padded[1:-1, 1:-1] != 2
    return out


def feather_reach(sigma_px: float) -> int:
    """Pixels beyond this distance (in the chessboard sense) from a mask keep weight 0."""
    return int(math.ceil(2.0 * sigma_px)) + int(math.ceil(3.0 * sigma_px))


def masked_mean(values: np.ndarray, masks: np.ndarray | None) -> np.ndarray:
    """Mean of float32 ``values`` (N, H, W, C), C <= 4, over each image's mask -> float64 (N, C).

    Accumulated in double precision by ``cv2.mean``; NaN for an empty mask; the whole image when
    ``masks`` is None.
    """
    n, c = len(values), values.shape[-1]
    out = np.full((n, c), np.nan)
    for i in range(n):
        m = None if masks is None else masks[i].view(np.uint8)
        if m is None or m.any():
            out[i] = cv2.mean(values[i], mask=m)[:c]
    return out
