"""Independent references and real images for the perturbation tests (not a test module).

The references use scikit-image's and plain NumPy's CIELAB (float64), not OpenCV's, so the kernels
are checked against a second implementation of the colour science.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
from skimage import color

SIZE = 224
_D65 = np.array([0.95047, 1.0, 1.08883])
_RGB_FROM_XYZ = np.linalg.inv(np.array([[0.4124, 0.3576, 0.1805],
                                        [0.2126, 0.7152, 0.0722],
                                        [0.0193, 0.1192, 0.9505]]))


def dermnet_files(root: Path, n: int) -> list[Path]:
    """``n`` DermNet NZ test photos spread over the sorted file list (both classes)."""
    files = sorted(root.glob("*/*.jpg"))
    idx = np.linspace(0, len(files) - 1, n).round().astype(int)
    return [files[i] for i in idx]


def load_images(files: list[Path], size: int = SIZE) -> np.ndarray:
    """Decode with the project's decoder when present, else Pillow + OpenCV (INTER_AREA)."""
    try:
        from harness.data.decode import decode_image
    except ImportError:
        decode_image = None
    out = []
    for f in files:
        if decode_image is not None:
            out.append(decode_image(f, size=(size, size)))
        else:
            import cv2
            from PIL import Image

            rgb = np.asarray(Image.open(f).convert("RGB"))
            out.append(cv2.resize(rgb, (size, size), interpolation=cv2.INTER_AREA))
    return np.stack(out)


def lab(images: np.ndarray) -> np.ndarray:
    """float64 CIELAB (D65) through scikit-image."""
    return color.rgb2lab(images)


def lab_to_linear_rgb(lab_values: np.ndarray) -> np.ndarray:
    """CIELAB -> linear sRGB without clipping (out-of-gamut values stay outside [0, 1])."""
    L, a, b = lab_values[..., 0], lab_values[..., 1], lab_values[..., 2]
    fy = (L + 16.0) / 116.0
    fx = fy + a / 500.0
    fz = fy - b / 200.0

    def finv(t):
        return np.where(t > 6.0 / 29.0, t**3, 3 * (6.0 / 29.0) ** 2 * (t - 4.0 / 29.0))

    xyz = np.stack([finv(fx), finv(fy), finv(fz)], axis=-1) * _D65
    return xyz @ _RGB_FROM_XYZ.T


def in_gamut(lab_values: np.ndarray, margin: float = 0.01) -> np.ndarray:
    """bool: the colour lies inside linear sRGB [margin, 1 - margin] (cannot be clipped)."""
    rgb = lab_to_linear_rgb(lab_values)
    return np.all((rgb >= margin) & (rgb <= 1.0 - margin), axis=-1)


def ellipse_masks(n: int, size: int = SIZE) -> np.ndarray:
    """A centred ellipse (half the width, 60% of the height) per image: a known region."""
    yy, xx = np.mgrid[0:size, 0:size]
    c = (size - 1) / 2.0
    m = ((xx - c) / (0.25 * size)) ** 2 + ((yy - c) / (0.30 * size)) ** 2 <= 1.0
    return np.repeat(m[None], n, axis=0)


def uniform_image(lab_colour: tuple[float, float, float], shape=(1, 64, 64)) -> np.ndarray:
    """A uint8 image of one CIELAB colour (through scikit-image)."""
    rgb = color.lab2rgb(np.array(lab_colour, dtype=np.float64)[None, None])[0, 0]
    px = np.clip(np.rint(rgb * 255), 0, 255).astype(np.uint8)
    return np.broadcast_to(px, (*shape, 3)).copy()
