"""Thumbnails: small JPEGs written beside the results, embedded into the report as data URIs.

The pipeline saves ``clean/<i>`` for every image ``i`` (row ``i`` of ``samples.csv``),
``<variant name>/<i>`` for the strip images and ``gradcam/<variant or clean>/<i>`` for the Grad-CAM
overlays. A key is a relative, slash-separated path; the file is ``thumbs/<key>.jpg``.
"""
from __future__ import annotations

import base64
import io
import re
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

from harness.results.io import atomic_write_bytes

THUMBS_DIR = "thumbs"
JPEG_QUALITY = 80
# One path part of a key: letters, digits and the few punctuation marks variant names use.
_PART = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.@=+,\-]*$")


def _check_key(key: str) -> str:
    if not isinstance(key, str):
        raise TypeError(f"thumbnail key must be a str, got {type(key).__name__}")
    parts = key.split("/")
    if not key or any(not _PART.match(p) or p in {".", ".."} for p in parts):
        raise ValueError(f"thumbnail key must be slash-separated names such as 'clean/3' or "
                         f"'blur@3/3' (letters, digits, _ . @ = + , -), got {key!r}")
    return key


def thumbnail_path(run_dir: str | Path, key: str) -> Path:
    """Where the thumbnail ``key`` lives in ``run_dir`` (whether or not it exists)."""
    return Path(run_dir) / THUMBS_DIR / f"{_check_key(key)}.jpg"


def _as_rgb_uint8(image: np.ndarray) -> np.ndarray:
    img = np.asarray(image)
    if img.ndim == 3 and img.shape[2] == 1:
        img = img[:, :, 0]
    if img.ndim == 2:
        img = np.repeat(img[:, :, None], 3, axis=2)
    if img.ndim != 3 or img.shape[2] not in (3, 4) or img.shape[0] == 0 or img.shape[1] == 0:
        raise ValueError(f"image must be (H, W), (H, W, 3) or (H, W, 4), got shape {img.shape}")
    if img.shape[2] == 4:
        img = img[:, :, :3]
    if img.dtype != np.uint8:
        if np.issubdtype(img.dtype, np.floating) and np.nanmax(img) <= 1.0:
            img = img * 255.0
        img = np.clip(np.nan_to_num(img), 0, 255).round().astype(np.uint8)
    return np.ascontiguousarray(img)


def thumbnail_bytes(image: np.ndarray, *, max_side: int = 128, quality: int = JPEG_QUALITY) -> bytes:
    """JPEG bytes of ``image`` (RGB) shrunk so that its longer side is at most ``max_side``.

    Images are only ever shrunk (``cv2.INTER_AREA``), never enlarged. Deterministic.
    """
    if max_side < 8:
        raise ValueError(f"max_side must be at least 8, got {max_side}")
    img = _as_rgb_uint8(image)
    h, w = img.shape[:2]
    scale = max_side / max(h, w)
    if scale < 1.0:
        size = (max(1, round(w * scale)), max(1, round(h * scale)))
        img = cv2.resize(img, size, interpolation=cv2.INTER_AREA)
    buf = io.BytesIO()
    Image.fromarray(img, mode="RGB").save(buf, format="JPEG", quality=quality)
    return buf.getvalue()


def save_thumbnail(run_dir: str | Path, key: str, image: np.ndarray, *, max_side: int = 128) -> str:
    """Write ``run_dir/thumbs/<key>.jpg`` (JPEG, quality 80) and return its relative path.

    Parameters
    ----------
    run_dir : path
        The run directory.
    key : str
        ``"clean/<i>"``, ``"<variant name>/<i>"`` or ``"gradcam/<variant or clean>/<i>"``.
    image : ndarray
        RGB uint8 ``(H, W, 3)`` (grey ``(H, W)`` and RGBA are accepted).
    max_side : int
        The longer side of the thumbnail, in pixels; smaller images keep their size.

    Returns
    -------
    str
        The path relative to ``run_dir``, with forward slashes (``"thumbs/clean/3.jpg"``).
    """
    path = thumbnail_path(run_dir, key)
    data = thumbnail_bytes(image, max_side=max_side)
    atomic_write_bytes(path, data)
    return f"{THUMBS_DIR}/{key}.jpg"


class Thumbnails:
    """The thumbnails of one run directory, read on demand and cached as data URIs.

    State: the folder and the URIs already encoded (a picture shown twice is read once).
    """

    def __init__(self, run_dir: str | Path):
        self.root = Path(run_dir) / THUMBS_DIR
        self._uris: dict[str, str | None] = {}

    def uri(self, key: str) -> str | None:
        """``data:image/jpeg;base64,...`` for ``key``, or None when there is no such thumbnail."""
        if key not in self._uris:
            try:
                path = self.root / f"{_check_key(key)}.jpg"
            except ValueError:
                self._uris[key] = None
                return None
            if path.is_file():
                data = path.read_bytes()
                self._uris[key] = "data:image/jpeg;base64," + base64.b64encode(data).decode("ascii")
            else:
                self._uris[key] = None
        return self._uris[key]

    def keys_under(self, prefix: str) -> list[str]:
        """Keys of the thumbnails under ``prefix`` (e.g. ``"gradcam/clean"``), sorted by image index."""
        folder = self.root / prefix
        if not folder.is_dir():
            return []
        keys = [f"{prefix}/{p.stem}" for p in folder.glob("*.jpg")]
        return sorted(keys, key=lambda k: (0, int(k.rsplit("/", 1)[1])) if k.rsplit("/", 1)[1].isdigit()
                      else (1, k))

    def variant_dirs(self) -> list[str]:
        """Names of the top-level thumbnail folders (``clean``, variant names, ``gradcam``)."""
        if not self.root.is_dir():
            return []
        return sorted(p.name for p in self.root.iterdir() if p.is_dir())
