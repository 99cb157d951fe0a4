"""The noise corruptions of ImageNet-C and of MedMNIST-C's DermaMNIST, with each protocol's table.

Formulas from Hendrycks & Dietterich's ``make_imagenet_c.py`` (github.com/hendrycks/robustness,
``ImageNet-C/create_c``) and Di Salvo et al.'s ``medmnistc/corruptions/noise.py``
(github.com/francescodisalvo05/medmnistc-api, parameters from its ``registry.py``, ``dermamnist``),
written here anew; x is the image in [0, 1], c the severity's parameter:

- gaussian noise: x + N(0, c²), c = sigma on the 0-1 scale (the ``noise`` kernel, sigma in levels
  = 255 c);
- shot noise: Poisson(c x) / c, c = photons per unit intensity (lower = noisier);
- impulse noise: scikit-image's salt-and-pepper, each channel value of each pixel replaced with
  probability c ("amount"), by 0 or 1 with equal odds;
- speckle noise: x + x N(0, c²), multiplicative.

Results are clipped to [0, 1] and rounded to the nearest level (the originals truncate). Each
image's noise comes from its own generator seeded from (seed, family, severity, image id), as the
``noise`` family's.
"""
from __future__ import annotations

import numpy as np

from perturbations.imagenet_c import CREDIT as IMAGENET_C
from perturbations.noise import gaussian_noise
from perturbations.spec import FamilySpec, seed_sampler

MEDMNIST_C = ("Di Salvo, Doerrich & Ledig 2024 (MedMNIST-C, DermaMNIST), github.com/francescodisalvo05/"
              "medmnistc-api medmnistc/corruptions/registry.py")


def _finish(buf: np.ndarray) -> np.ndarray:
    """float32 levels -> uint8, rounded and clipped to 0..255."""
    np.rint(buf, out=buf)
    np.clip(buf, 0, 255, out=buf)
    return buf.astype(np.uint8)


def shot_noise(images: np.ndarray, *, photons: float, noise_seeds: np.ndarray) -> np.ndarray:
    """Poisson photon noise: x -> Poisson(``photons`` x) / ``photons`` (x in [0, 1]).

    The variance of the result is x / ``photons`` on the 0-1 scale: fewer photons, more noise.
    """
    out = np.empty_like(images)
    for i, image in enumerate(images):
        rng = np.random.default_rng(int(noise_seeds[i]))
        lam = image.astype(np.float64) * (photons / 255.0)
        buf = (rng.poisson(lam) * (255.0 / photons)).astype(np.float32)
        out[i] = _finish(buf)
    return out


def impulse_noise(images: np.ndarray, *, amount: float, noise_seeds: np.ndarray) -> np.ndarray:
    """Salt and pepper: each channel value replaced with probability ``amount``, by 0 or 255 at
    even odds (scikit-image ``random_noise(mode="s&p")``, ``salt_vs_pepper=0.5``)."""
    out = images.copy()
    for i in range(len(images)):
        rng = np.random.default_rng(int(noise_seeds[i]))
        flipped = rng.random(images.shape[1:]) < amount
        salted = rng.random(images.shape[1:]) < 0.5
        out[i][flipped & salted] = 255
        out[i][flipped & ~salted] = 0
    return out


def speckle_noise(images: np.ndarray, *, sigma: float, noise_seeds: np.ndarray) -> np.ndarray:
    """Multiplicative noise: x -> x (1 + N(0, ``sigma``²)), clipped; dark pixels change least."""
    out = np.empty_like(images)
    buf = np.empty(images.shape[1:], dtype=np.float32)
    for i, image in enumerate(images):
        rng = np.random.default_rng(int(noise_seeds[i]))
        rng.standard_normal(out=buf, dtype=np.float32)
        buf *= np.float32(sigma)
        buf += np.float32(1.0)
        buf *= image
        out[i] = _finish(buf)
    return out


def _specs(prefix: str, credit: str, who: str, gaussian, shot, impulse, speckle) -> list[FamilySpec]:
    rows = range(1, 6)
    return [
        FamilySpec(name=f"{prefix}_gaussian_noise", kernel=gaussian_noise, kind="noise",
                   sample=seed_sampler(), credit=credit,
                   summary=(f"{who} Gaussian noise: sigma 8-bit levels (their 0-1 sigma x 255) per "
                            "pixel and channel, seeded per image"),
                   table={k: {"sigma": round(c * 255.0, 4)} for k, c in zip(rows, gaussian)}),
        FamilySpec(name=f"{prefix}_shot_noise", kernel=shot_noise, kind="noise",
                   sample=seed_sampler(), credit=credit,
                   summary=(f"{who} shot noise: Poisson(photons x) / photons, x in 0-1 (fewer "
                            "photons = noisier), seeded per image"),
                   table={k: {"photons": float(c)} for k, c in zip(rows, shot)}),
        FamilySpec(name=f"{prefix}_impulse_noise", kernel=impulse_noise, kind="noise",
                   sample=seed_sampler(), credit=credit,
                   summary=(f"{who} impulse noise: a share amount of channel values set to 0 or 255"
                            " (salt and pepper), seeded per image"),
                   table={k: {"amount": float(c)} for k, c in zip(rows, impulse)}),
        FamilySpec(name=f"{prefix}_speckle_noise", kernel=speckle_noise, kind="noise",
                   sample=seed_sampler(), credit=credit,
                   summary=(f"{who} speckle noise: x (1 + N(0, sigma²)), multiplicative, seeded "
                            "per image"),
                   table={k: {"sigma": float(c)} for k, c in zip(rows, speckle)}),
    ]


SPECS = (
    _specs("imagenet_c", IMAGENET_C, "ImageNet-C",
           gaussian=(0.08, 0.12, 0.18, 0.26, 0.38), shot=(60, 25, 12, 5, 3),
           impulse=(0.03, 0.06, 0.09, 0.17, 0.27), speckle=(0.15, 0.2, 0.35, 0.45, 0.6))
    + _specs("medmnist_c", MEDMNIST_C, "MedMNIST-C (DermaMNIST)",
             gaussian=(0.04, 0.08, 0.12, 0.18, 0.26), shot=(60, 25, 18, 10, 5),
             impulse=(0.01, 0.03, 0.06, 0.09, 0.17), speckle=(0.05, 0.15, 0.2, 0.35, 0.45))
)
