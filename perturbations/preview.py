"""A preview grid of a ladder: rows = (family, image), columns = severities, clean first.

Each cell is the perturbed image, perturbed at its own size (pixel-sized parameters mean what they
say) and then shrunk into a cell of the first image's aspect ratio (others letterboxed on grey).
Labels are drawn with OpenCV's Hershey font: the same inputs give the same pixels.
"""
from __future__ import annotations

from typing import Sequence

import cv2
import numpy as np

from perturbations.registry import Variant, apply

_BG = 235
_HEADER_H = 28
_GAP = 4


def fit_cell(image: np.ndarray, cell_w: int, cell_h: int) -> np.ndarray:
    """Resize ``image`` to fit a ``cell_w`` x ``cell_h`` cell keeping its aspect, centred on grey."""
    h, w = image.shape[:2]
    scale = min(cell_w / w, cell_h / h)
    nw, nh = max(1, round(w * scale)), max(1, round(h * scale))
    interp = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
    small = cv2.resize(image, (nw, nh), interpolation=interp)
    cell = np.full((cell_h, cell_w, 3), _BG, dtype=np.uint8)
    y, x = (cell_h - nh) // 2, (cell_w - nw) // 2
    cell[y:y + nh, x:x + nw] = small
    return cell


def _text(canvas: np.ndarray, text: str, org: tuple[int, int], scale: float = 0.5) -> None:
    cv2.putText(canvas, text, org, cv2.FONT_HERSHEY_SIMPLEX, scale, (20, 20, 20), 1, cv2.LINE_AA)


def preview_grid(images: Sequence[np.ndarray], families: Sequence[str], severities: Sequence[int], *,
                 masks: Sequence[np.ndarray | None] | None = None, seed: int = 0,
                 image_ids: Sequence[int | str] | None = None, thumb: int = 192) -> np.ndarray:
    """Render the preview grid.

    Parameters
    ----------
    images : sequence of np.ndarray
        A few uint8 (H, W, 3) images (sizes may differ).
    families : sequence of str
        Family names, one block of rows each.
    severities : sequence of int
        Severities for the columns; 0 (the clean image) is always shown first.
    masks : sequence of bool (H, W) arrays or None, optional
        Region mask per image for the regional families.
    seed : int
        Seed of the stochastic families.
    image_ids : sequence, optional
        Per-image ids for the stochastic families' streams (default 0..K-1).
    thumb : int
        Cell width in pixels; the cell height follows the first image's aspect ratio.

    Returns
    -------
    np.ndarray
        uint8 RGB grid image.
    """
    cols = [0] + sorted({int(s) for s in severities if int(s) != 0})
    ids = list(range(len(images))) if image_ids is None else list(image_ids)
    rows = len(families) * len(images)
    label_w = 12 + max(cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, 0.5, 1)[0][0]
                       for text in list(families) + ["image 1"])
    cell_w = thumb
    cell_h = max(1, round(thumb * images[0].shape[0] / images[0].shape[1]))
    height = _HEADER_H + rows * (cell_h + _GAP)
    width = label_w + len(cols) * (cell_w + _GAP)
    canvas = np.full((height, width, 3), 255, dtype=np.uint8)
    for c, sev in enumerate(cols):
        _text(canvas, "clean" if sev == 0 else f"severity {sev}",
              (label_w + c * (cell_w + _GAP) + 6, _HEADER_H - 9))
    r = 0
    for family in families:
        for k, image in enumerate(images):
            y = _HEADER_H + r * (cell_h + _GAP)
            if k == 0:
                _text(canvas, family, (6, y + 20))
            _text(canvas, f"image {k + 1}", (6, y + 42), scale=0.4)
            mask = None if masks is None or masks[k] is None else masks[k][None]
            for c, sev in enumerate(cols):
                out = apply(Variant(family, sev), image[None], masks=mask, seed=seed, image_ids=[ids[k]])[0]
                x = label_w + c * (cell_w + _GAP)
                canvas[y:y + cell_h, x:x + cell_w] = fit_cell(out, cell_w, cell_h)
            r += 1
    return canvas
