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

Pixel-sized parameters (the font) were chosen for 224 x 224 images and act on the image as given.
Values are rounded to nearest (the originals truncate).
"""
from __future__ import annotations

import math
import string

import cv2
import numpy as np
from PIL import Image

from perturbations.imagenet_c import to_float, to_uint8
from perturbations.protocol_noise import IMAGENET_C, MEDMNIST_C, sample_noise_seeds
from perturbations.spec import FamilySpec

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
               sample=sample_noise_seeds,
               summary=("MedMNIST-C (DermaMNIST) characters: 1 to max_words random words of 3 to "
                        "max_letters letters, font scale 0.14 to max_font_scale, drawn per image"),
               table={k: {"max_words": a, "max_letters": b, "max_font_scale": c} for k, (a, b, c) in
                      zip(range(1, 6), ((1, 6, 0.14), (2, 7, 0.15), (3, 8, 0.16), (4, 9, 0.17), (6, 10, 0.18)))}),
]
