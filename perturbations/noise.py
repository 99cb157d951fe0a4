"""Sensor noise: additive Gaussian noise on the sRGB values, independent per pixel and channel.

Sigma is in 8-bit levels (2, 4, 6, 10, 15 at severities 1..5: from a well-lit phone photograph to
a dim room at high ISO). Each image's noise comes from its own generator, seeded from
(seed, family, severity, image id), so a batch's result does not depend on how it was split and
never touches global randomness.
"""
from __future__ import annotations

import numpy as np

from perturbations.spec import FamilySpec, seed_sampler


def gaussian_noise(images: np.ndarray, *, sigma: float, noise_seeds: np.ndarray) -> np.ndarray:
    """Add N(0, ``sigma``²) levels to every channel of every pixel, round, clip to 0..255.

    Parameters
    ----------
    images : np.ndarray
        uint8 sRGB batch (N, H, W, 3).
    sigma : float
        Standard deviation in 8-bit levels.
    noise_seeds : np.ndarray
        (N,) one integer seed per image for ``np.random.default_rng``.

    Returns
    -------
    np.ndarray
        uint8 batch of the same shape.
    """
    out = np.empty_like(images)
    buf = np.empty(images.shape[1:], dtype=np.float32)
    for i, image in enumerate(images):
        rng = np.random.default_rng(int(noise_seeds[i]))
        rng.standard_normal(out=buf, dtype=np.float32)
        buf *= np.float32(sigma)
        buf += image
        np.rint(buf, out=buf)
        np.clip(buf, 0, 255, out=buf)
        out[i] = buf
    return out


SPECS = [
    FamilySpec(
        name="noise", kernel=gaussian_noise, kind="noise", sample=seed_sampler(),
        summary=("sensor noise: Gaussian noise of sigma 8-bit levels per pixel and channel, seeded"
                 " per image"),
        table={1: {"sigma": 2.0}, 2: {"sigma": 4.0}, 3: {"sigma": 6.0},
               4: {"sigma": 10.0}, 5: {"sigma": 15.0}},
    ),
]
