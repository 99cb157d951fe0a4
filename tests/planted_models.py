"""Plain-Python models for tests, given to the CLI as ``module:function``.

Each maps a uint8 batch (N, H, W, 3) to probabilities, with no TensorFlow, so that tests of the
pipeline run in seconds and have known answers.
"""
from __future__ import annotations

import numpy as np


def redness(images: np.ndarray) -> np.ndarray:
    """P(positive) rises with the image's mean redness (R minus G, scaled): a model whose
    predictions a redness perturbation must move upwards."""
    x = images.astype(np.float32)
    score = (x[..., 0] - x[..., 1]).mean(axis=(1, 2)) / 40.0 - 1.0
    return 1.0 / (1.0 + np.exp(-score))


def brightness(images: np.ndarray) -> np.ndarray:
    """P(positive) = mean brightness / 255: flips when the light changes."""
    return images.astype(np.float32).mean(axis=(1, 2, 3)) / 255.0


def two_class_softmax(images: np.ndarray) -> np.ndarray:
    """A two-column softmax version of :func:`redness`."""
    p = redness(images)
    return np.stack([1.0 - p, p], axis=1)
