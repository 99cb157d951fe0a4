"""Pixelate, zoom blur and text overlay: the digital corruptions of the dermatology protocols.

Formulas from Hendrycks & Dietterich's ``make_imagenet_c.py`` (github.com/hendrycks/robustness,
``ImageNet-C/create_c``; SAM-C, Maron et al. 2021, adapts them) and Di Salvo et al.'s MedMNIST-C
(github.com/francescodisalvo05/medmnistc-api, ``medmnistc/corruptions/compression.py``,
``filter.py``, ``microscopy.py``; DermaMNIST parameters from ``registry.py``), written here anew:

- pixelate: shrink to (int(W c), int(H c)) with a box filter, enlarge back with a box filter
  (Pillow ``Image.BOX``, as both use): blocks of about 1 / c pixels; c = .6, .5, .4, .3, .25
  (ImageNet-C) and .7, .5, .4, .3, .25 (MedMNIST-C DermaMNIST). ImageNet-C resizes to int(224 c)
  whatever the size; here, as in MedMNIST-C, to int(W c) x int(H c).
- zoom blur: the mean of the image and of its centre crops enlarged by each factor z in
  ``np.arange(1, stop, step)`` (linear interpolation, corner-aligned: scipy ``zoom(order=1)``),
  (stop, step) = (1.11, .01), (1.16, .01), (1.21, .02), (1.26, .02), (1.31, .03): the same in
  ImageNet-C and MedMNIST-C. Their crop is square (the image height on both axes); here each axis
  is cropped by its own length, which is the same on square images.
- text overlay (MedMNIST-C "characters"): 1..max_words random lowercase words of 3..max_letters
  letters, OpenCV Hershey Duplex at a font scale 0.14..max_font_scale, thickness 1, anti-aliased,
  each in a random colour at a random place (x in 10..W - 8 letters, y in 10..H - 10), drawn from
  the image's own generator; (max_words, max_letters, max_font_scale) = (1, 6, .14), (2, 7, .15),
  (3, 8, .16), (4, 9, .17), (6, 10, .18). The count is drawn per image (up to max_words), so the
  covered area rises with severity on average; it is measured per image (``area``).
- elastic transform (ImageNet-C's, in SAM-C's digital corruptions): a random affine warp moving
  three points around the centre (at +-min(H, W) // 3) by up to ``affine`` pixels each
  (``cv2.warpAffine``, linear, mirrored edges), then a displacement field: uniform noise in
  [-1, 1] per pixel and axis, smoothed by a Gaussian of ``sigma`` pixels (3-sigma support,
  reflected edges) and times ``alpha`` pixels, sampled with linear interpolation (scipy
  ``map_coordinates``, reflected edges); (alpha, sigma, affine) = 244 x (2, .7, .1),
  (2, .08, .2), (.05, .01, .02), (.07, .01, .02), (.12, .01, .02) (244, not 224, is theirs).
  Their points swap x and y on non-square images; here x is the width.

Pixel-sized parameters (the font) were chosen for 224 x 224 images and act on the image as given.
Values are rounded to nearest (the originals truncate).
"""
from __future__ import annotations

import math
import string
from functools import lru_cache

import cv2
import numpy as np
from PIL import Image
from scipy.ndimage import map_coordinates

from perturbations.imagenet_c import to_float, to_uint8
from perturbations.protocol_noise import IMAGENET_C, MEDMNIST_C
from perturbations.spec import FamilySpec, seed_sampler

_LETTERS = np.array(list(string.ascii_lowercase))


def pixelate(images: np.ndarray, *, factor: float) -> np.ndarray:
    """Box-filter down to (int(W ``factor``), int(H ``factor``)) and box-filter back up (Pillow)."""
    out = np.empty_like(images)
    h, w = images.shape[1:3]
    small = (max(1, int(w * factor)), max(1, int(h * factor)))
    for i, image in enumerate(images):
        im = Image.fromarray(image).resize(small, Image.BOX).resize((w, h), Image.BOX)
        out[i] = np.asarray(im)
    return out


def zoom_factors(stop: float, step: float) -> np.ndarray:
    """The protocols' zoom factors, ``np.arange(1, stop, step)`` exactly as they compute it."""
    return np.arange(1, stop, step)


def _zoom_taps(n: int, factor: float) -> tuple[np.ndarray, np.ndarray]:
    """Per output sample along an axis of ``n``: the first input tap and the second tap's weight.

    The centre crop of the axis, ceil(n / factor) long from (n - crop) // 2, enlarged by linear
    interpolation with the first and last samples on the crop's ends (scipy ``zoom``, order 1) to
    round(crop * factor) samples, of which the middle n (from (size - n) // 2) are kept: output
    j = (1 - w[j]) x[i[j]] + w[j] x[i[j] + 1].
    """
    crop = int(math.ceil(n / factor))
    top = (n - crop) // 2
    size = int(round(crop * factor))
    trim = (size - n) // 2
    pos = np.arange(trim, trim + n, dtype=np.float64) * (crop - 1) / max(size - 1, 1)
    i0 = np.clip(np.floor(pos).astype(np.intp), 0, max(crop - 2, 0))
    frac = (pos - i0).astype(np.float32)
    return top + i0, frac


def _interpolate(x: np.ndarray, taps: tuple[np.ndarray, np.ndarray], axis: int) -> np.ndarray:
    i0, frac = taps
    shape = [1, 1, 1]
    shape[axis] = len(frac)
    w = frac.reshape(shape)
    a = np.take(x, i0, axis=axis)
    b = np.take(x, np.minimum(i0 + 1, x.shape[axis] - 1), axis=axis)
    return a + w * (b - a)


def zoom_blur(images: np.ndarray, *, zoom_stop: float, zoom_step: float) -> np.ndarray:
    """(x + sum over z of zoom(x, z)) / (number of z + 1), z in ``zoom_factors(stop, step)``.

    Each zoom is separable: linear interpolation along the rows, then along the columns.
    """
    factors = zoom_factors(zoom_stop, zoom_step)
    n, h, w, _ = images.shape
    taps = [(_zoom_taps(h, float(z)), _zoom_taps(w, float(z))) for z in factors]
    out = np.empty_like(images)
    for i in range(n):
        x = to_float(images[i])                        # (H, W, 3)
        acc = x.copy()
        for ty, tx in taps:
            acc += _interpolate(_interpolate(x, ty, 0), tx, 1)
        acc /= np.float32(len(factors) + 1)
        out[i] = to_uint8(np.clip(acc, 0.0, 1.0))
    return out


def text_overlay(images: np.ndarray, *, max_words: int, max_letters: int, max_font_scale: float,
                 noise_seeds: np.ndarray) -> np.ndarray:
    """Draw 1..``max_words`` random words on each image (MedMNIST-C ``Characters``).

    Per image, from its own generator: the number of words; per word its length (3..``max_letters``),
    letters, font scale (0.14..``max_font_scale`` in steps of 0.01), colour (uniform RGB) and
    bottom-left corner. Hershey Duplex, thickness 1, anti-aliased.
    """
    out = images.copy()
    h, w = images.shape[1:3]
    top_scale = int(round(max_font_scale * 100))
    for i in range(len(images)):
        rng = np.random.default_rng(int(noise_seeds[i]))
        canvas = np.ascontiguousarray(out[i])
        for _ in range(int(rng.integers(1, max_words + 1))):
            letters = int(rng.integers(3, max_letters + 1))
            scale = int(rng.integers(14, max(14, top_scale) + 1)) / 100.0
            word = "".join(rng.choice(_LETTERS, size=letters))
            x = int(rng.integers(10, max(10, w - 8 * letters) + 1))
            y = int(rng.integers(10, max(10, h - 10) + 1))
            colour = tuple(int(c) for c in rng.integers(0, 256, size=3))
            cv2.putText(canvas, word, (x, y), cv2.FONT_HERSHEY_DUPLEX, scale, colour, 1, cv2.LINE_AA)
        out[i] = canvas
    return out


@lru_cache(maxsize=16)
def _gaussian_operator(n: int, sigma: float) -> np.ndarray:
    """(n, n) float64 G with G @ v = v smoothed by a Gaussian of ``sigma`` truncated at 3 sigma
    with reflected edges (scipy / scikit-image ``mode="reflect"``: d c b a | a b c d), also when
    the kernel is wider than the axis (then it folds back and forth)."""
    radius = int(3 * sigma + 0.5)
    taps = np.arange(-radius, radius + 1)
    k = np.exp(-0.5 * taps.astype(np.float64) ** 2 / sigma**2)
    k /= k.sum()
    idx = (np.arange(n)[:, None] + taps[None, :]) % (2 * n)
    idx = np.where(idx >= n, 2 * n - 1 - idx, idx)
    g = np.zeros((n, n))
    np.add.at(g, (np.repeat(np.arange(n), len(taps)), idx.ravel()), np.tile(k, n))
    g.flags.writeable = False
    return g


def _smoothed_field(rng: np.random.Generator, shape: tuple[int, int], sigma: float) -> np.ndarray:
    """Uniform [-1, 1] noise smoothed by a Gaussian of ``sigma`` (truncated at 3 sigma, reflected
    edges: scikit-image ``gaussian(mode="reflect", truncate=3)``), float64; a kernel wider than a
    quarter of the image as two matrix products with the folded operator."""
    u = rng.uniform(-1, 1, size=shape)
    radius = int(3 * sigma + 0.5)
    if radius < min(shape) // 4:                   # short kernel: OpenCV's separable filter is quicker
        taps = np.arange(-radius, radius + 1, dtype=np.float64)
        k = np.exp(-0.5 * taps**2 / sigma**2)
        k /= k.sum()
        return cv2.sepFilter2D(u, cv2.CV_64F, k, k, borderType=cv2.BORDER_REFLECT)
    # OpenCV's gemm, not NumPy's BLAS: its threads slow a 224 x 224 product 7-fold on a busy machine
    rows = cv2.gemm(_gaussian_operator(shape[0], float(sigma)), u, 1.0, None, 0.0)
    return cv2.gemm(rows, _gaussian_operator(shape[1], float(sigma)), 1.0, None, 0.0, flags=cv2.GEMM_2_T)


def elastic_transform(images: np.ndarray, *, alpha: float, sigma: float, affine: float,
                      noise_seeds: np.ndarray) -> np.ndarray:
    """ImageNet-C elastic transform: a random affine warp, then a smooth random displacement field
    of ``alpha`` pixels times uniform noise smoothed over ``sigma`` pixels (see the module)."""
    n, h, w, _ = images.shape
    out = np.empty_like(images)
    cx, cy, half = w // 2, h // 2, min(h, w) // 3
    pts1 = np.float32([[cx + half, cy + half], [cx + half, cy - half], [cx - half, cy - half]])
    yy, xx = np.meshgrid(np.arange(h), np.arange(w), indexing="ij")
    for i in range(n):
        rng = np.random.default_rng(int(noise_seeds[i]))
        pts2 = pts1 + rng.uniform(-affine, affine, size=pts1.shape).astype(np.float32)
        m = cv2.getAffineTransform(pts1, pts2)
        warped = cv2.warpAffine(to_float(images[i]), m, (w, h), borderMode=cv2.BORDER_REFLECT_101)
        dx = (_smoothed_field(rng, (h, w), sigma) * alpha).astype(np.float32)
        dy = (_smoothed_field(rng, (h, w), sigma) * alpha).astype(np.float32)
        coords = np.stack([yy + dy, xx + dx])
        res = np.stack([map_coordinates(warped[..., c], coords, order=1, mode="reflect")
                        for c in range(3)], axis=-1)
        out[i] = to_uint8(np.clip(res, 0.0, 1.0))
    return out


SPECS = [
    FamilySpec(name="imagenet_c_pixelate", kernel=pixelate, kind="compression", credit=IMAGENET_C,
               summary=("ImageNet-C pixelate: box-filtered down to factor of the size and back up "
                        "(blocks of about 1 / factor pixels)"),
               table={k: {"factor": c} for k, c in zip(range(1, 6), (0.6, 0.5, 0.4, 0.3, 0.25))}),
    FamilySpec(name="medmnist_c_pixelate", kernel=pixelate, kind="compression", credit=MEDMNIST_C,
               summary=("MedMNIST-C (DermaMNIST) pixelate: box-filtered down to factor of the size "
                        "and back up (blocks of about 1 / factor pixels)"),
               table={k: {"factor": c} for k, c in zip(range(1, 6), (0.7, 0.5, 0.4, 0.3, 0.25))}),
    FamilySpec(name="imagenet_c_zoom_blur", kernel=zoom_blur, kind="blur", credit=IMAGENET_C,
               summary=("ImageNet-C zoom blur (also MedMNIST-C's): mean of the image and its centre "
                        "enlarged by each factor in arange(1, zoom_stop, zoom_step)"),
               table={k: {"zoom_stop": a, "zoom_step": b} for k, (a, b) in
                      zip(range(1, 6), ((1.11, 0.01), (1.16, 0.01), (1.21, 0.02), (1.26, 0.02), (1.31, 0.03)))}),
    FamilySpec(name="medmnist_c_text_overlay", kernel=text_overlay, kind="occlusion", credit=MEDMNIST_C,
               sample=seed_sampler(),
               summary=("MedMNIST-C (DermaMNIST) characters: 1 to max_words random words of 3 to "
                        "max_letters letters, font scale 0.14 to max_font_scale, drawn per image"),
               table={k: {"max_words": a, "max_letters": b, "max_font_scale": c} for k, (a, b, c) in
                      zip(range(1, 6), ((1, 6, 0.14), (2, 7, 0.15), (3, 8, 0.16), (4, 9, 0.17), (6, 10, 0.18)))}),
    FamilySpec(name="imagenet_c_elastic_transform", kernel=elastic_transform, kind="blur", credit=IMAGENET_C,
               sample=seed_sampler(),
               summary=("ImageNet-C elastic transform: a random affine warp of up to affine pixels, "
                        "then a random displacement field of alpha pixels smoothed over sigma"),
               table={k: {"alpha": round(244 * a, 4), "sigma": round(244 * b, 4), "affine": round(244 * c, 4)}
                      for k, (a, b, c) in zip(range(1, 6), ((2, 0.7, 0.1), (2, 0.08, 0.2), (0.05, 0.01, 0.02),
                                                            (0.07, 0.01, 0.02), (0.12, 0.01, 0.02)))}),
]
