"""JPEG compression: encode and decode at a quality level (libjpeg through OpenCV).

Clinical photographs are often recompressed on the way (messaging apps, web uploads, PACS
exports). Quality 70, 50, 35, 20, 10 at severities 1..5, with 4:2:0 chroma subsampling (the
default of phone cameras, Pillow and OpenCV). Deterministic: same pixels, same libjpeg, same bytes.
"""
from __future__ import annotations

import cv2
import numpy as np

from perturbations.spec import FamilySpec


def jpeg_roundtrip(images: np.ndarray, *, quality: int) -> np.ndarray:
    """Encode each image as JPEG at ``quality`` (1..100, 4:2:0) and decode it again.

    Parameters
    ----------
    images : np.ndarray
        uint8 sRGB batch (N, H, W, 3).
    quality : int
        JPEG quality factor.

    Returns
    -------
    np.ndarray
        uint8 batch of the same shape.
    """
    params = [cv2.IMWRITE_JPEG_QUALITY, int(quality),
              cv2.IMWRITE_JPEG_SAMPLING_FACTOR, cv2.IMWRITE_JPEG_SAMPLING_FACTOR_420]
    out = np.empty_like(images)
    for i, image in enumerate(images):
        ok, buf = cv2.imencode(".jpg", np.ascontiguousarray(image[..., ::-1]), params)
        if not ok:
            raise RuntimeError("OpenCV failed to encode a JPEG")
        out[i] = cv2.imdecode(buf, cv2.IMREAD_COLOR)[..., ::-1]
    return out


SPECS = [
    FamilySpec(
        name="jpeg", kernel=jpeg_roundtrip, kind="compression",
        summary=("recompression (messaging apps, uploads): JPEG encode and decode at quality "
                 "(0-100), 4:2:0 chroma"),
        table={1: {"quality": 70}, 2: {"quality": 50}, 3: {"quality": 35},
               4: {"quality": 20}, 5: {"quality": 10}},
    ),
]
