"""Plain-Python models given as ``module:function`` (or ``tests/callable_models.py:function``).

Each maps a uint8 batch (N, H, W, 3) to outputs with a closed-form answer, so tests can check
DermaTrace's reading of them exactly. The sidecar ``callable_models.json`` beside this file makes
``--model tests/callable_models.py:redness`` audit the DermNet eczema-vs-atopic-dermatitis split.
"""
from __future__ import annotations

import numpy as np

CALLS = {"n": 0}


def redness(images: np.ndarray) -> np.ndarray:
    """P(positive) = mean red value / 255, shape (N,)."""
    CALLS["n"] += 1
    return images[..., 0].mean(axis=(1, 2)) / 255.0


def redness_logit(images: np.ndarray) -> np.ndarray:
    """Logit (mean red - mean green) / 8, shape (N, 1): far outside [0, 1]."""
    x = images.astype(np.float64)
    return ((x[..., 0].mean(axis=(1, 2)) - x[..., 1].mean(axis=(1, 2))) / 8.0)[:, None]


def channel_softmax(images: np.ndarray) -> np.ndarray:
    """Three classes: softmax over the mean R, G, B values / 32, shape (N, 3)."""
    z = images.astype(np.float64).mean(axis=(1, 2)) / 32.0
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def wrong_shape(images: np.ndarray) -> np.ndarray:
    return np.zeros((len(images) + 1,))


def red_over_64(images: np.ndarray) -> np.ndarray:
    """Mean red / 64: inside [0, 1] for dark images, above 1 for bright ones (logit-like)."""
    return images[..., 0].mean(axis=(1, 2)) / 64.0


def dtype_probe(images: np.ndarray) -> np.ndarray:
    """1.0 when called with float32 pixels in [0, 1] (scale_0_1), 0.0 for uint8 input."""
    ok = images.dtype == np.float32 and images.min() >= 0.0 and images.max() <= 1.0
    return np.full(len(images), 1.0 if ok else 0.0)


TEXTURE_CALLS = {"n": 0}


def texture_top_left(images: np.ndarray) -> np.ndarray:
    """P(positive) from the detail of the top-left quadrant only: a logistic of the standard
    deviation of its grey levels, shape (N,). Blind to the other three quadrants."""
    TEXTURE_CALLS["n"] += 1
    h, w = images.shape[1] // 2, images.shape[2] // 2
    gray = images[:, :h, :w].astype(np.float64).mean(axis=3)
    return 1.0 / (1.0 + np.exp(-(gray.std(axis=(1, 2)) / 10.0 - 1.0)))


def texture_top_left_3(images: np.ndarray) -> np.ndarray:
    """Three classes from the top-left quadrant only: a softmax of its grey-level detail, its
    mean red and its mean blue (each scaled), shape (N, 3). Blind to the other three quadrants."""
    h, w = images.shape[1] // 2, images.shape[2] // 2
    quad = images[:, :h, :w].astype(np.float64)
    z = np.stack([quad.mean(axis=3).std(axis=(1, 2)) / 10.0, quad[..., 0].mean(axis=(1, 2)) / 40.0,
                  quad[..., 2].mean(axis=(1, 2)) / 40.0], axis=1)
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)
