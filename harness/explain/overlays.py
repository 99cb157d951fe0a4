"""Pictures for the report's galleries: a Grad-CAM heatmap laid over its image."""
from __future__ import annotations

import cv2
import numpy as np


def overlay(image: np.ndarray, heatmap: np.ndarray, *, alpha: float = 0.45) -> np.ndarray:
    """Blend a heatmap (any grid, non-negative) over a uint8 RGB image with the JET colour map.

    The heatmap is scaled to [0, 1] by its own maximum (an all-zero map leaves the image as it is)
    and resized to the image with bilinear interpolation.
    """
    if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        raise ValueError(f"image must be uint8 (H, W, 3), got {image.dtype} {image.shape}")
    h = np.asarray(heatmap, dtype=np.float32)
    peak = float(h.max()) if h.size else 0.0
    if peak <= 0:
        return image.copy()
    h = cv2.resize(h / peak, (image.shape[1], image.shape[0]), interpolation=cv2.INTER_LINEAR)
    colour = cv2.applyColorMap(np.clip(h * 255, 0, 255).astype(np.uint8), cv2.COLORMAP_JET)
    colour = cv2.cvtColor(colour, cv2.COLOR_BGR2RGB).astype(np.float32)
    weight = alpha * np.clip(h, 0, 1)[..., None]
    out = image.astype(np.float32) * (1 - weight) + colour * weight
    return np.clip(out + 0.5, 0, 255).astype(np.uint8)
