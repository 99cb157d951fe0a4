"""Synthetic skin photographs of known skin tone, for tests and the demo.

Each image is a patch of skin whose colour is set in CIELAB from a target Individual Typology
Angle (ITA = atan2(L* - 50, b*) in degrees), with what makes real clinical photographs hard:
uneven light and shading, skin texture and sensor noise, an erythematous lesion (raised a*),
and, optionally, a strip of background, hair strands and specular highlights.

The two classes differ only in how the lesion looks, never in skin tone:

* class 0 (``class_names[0]``, by default ``atopic_dermatitis``): one diffuse, ill-defined patch
  with lichenified (cross-hatched) texture and fine scale;
* class 1 (``class_names[1]``, by default ``eczema``): several sharply bounded round discoid
  plaques with a few satellite papules.

``dark_visibility`` scales the lesion's contrast on dark skin (true ITA below 10°, Chardon's
"brown" and "dark"): at 1.0 lesions are as visible on every skin tone; below 1.0 they fade on
dark skin, a planted bias that a fairness audit must find.

The skin colour path runs from very light skin (L* about 76, b* about 12, ITA about 65°) through
tanned skin (b* up to about 25) to dark skin (L* about 26, b* about 12, ITA about -63°). ITA fixes
the direction from (L* = 50, b* = 0); where on that ray the colour lies is drawn around the path,
so the true ITA is exact whatever the jitter.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import pandas as pd

__all__ = [
    "DARK_ITA",
    "SyntheticBatch",
    "make_synthetic_dataset",
    "render_synthetic",
    "skin_colour_for_ita",
    "synthetic_images",
]

#: True ITA below which skin counts as "dark" (Chardon's brown and dark bands).
DARK_ITA = 10.0
#: Lesion opacity above which a pixel counts as lesion in the returned masks.
LESION_ALPHA = 0.3

_CHARDON_EDGES = (55.0, 41.0, 28.0, 10.0, -30.0)
_CHARDON_NAMES = ("very_light", "light", "intermediate", "tan", "brown", "dark")

# The skin-colour path, parametrised by t in [0, 1] (light -> dark).
_PATH_T = np.linspace(0.0, 1.0, 2001)
_PATH_L = 76.0 - 50.0 * _PATH_T
_PATH_B = 12.0 + 13.0 * np.sin(np.pi * _PATH_T)
_PATH_ITA = np.degrees(np.arctan2(_PATH_L - 50.0, _PATH_B))  # strictly decreasing in t
ITA_RANGE = (float(_PATH_ITA[-1]), float(_PATH_ITA[0]))


@dataclass(frozen=True)
class SyntheticBatch:
    """Everything ``render_synthetic`` knows about the images it drew.

    Attributes
    ----------
    images : (n, size, size, 3) uint8 RGB.
    meta : one row per image (see ``synthetic_images``).
    lesion : (n, size, size) bool, lesion opacity above ``LESION_ALPHA``.
    skin : (n, size, size) bool, healthy skin: not lesion (any opacity above 0.05), background,
        hair or specular highlight.
    """

    images: np.ndarray
    meta: pd.DataFrame
    lesion: np.ndarray
    skin: np.ndarray


def skin_colour_for_ita(ita: np.ndarray, *, chroma_scale: np.ndarray | float = 1.0
                        ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """L*, a*, b* of skin with the given ITA, on the light-to-dark path.

    Parameters
    ----------
    ita : array of target ITA in degrees, within ``ITA_RANGE``.
    chroma_scale : distance from (L* = 50, b* = 0) relative to the path; ITA does not change.

    Returns
    -------
    (L, a, b) float64 arrays shaped like ``ita``.
    """
    ita = np.asarray(ita, dtype=np.float64)
    if np.any(ita < ITA_RANGE[0] - 1e-9) or np.any(ita > ITA_RANGE[1] + 1e-9):
        raise ValueError(f"ita must lie in {ITA_RANGE}, got min {ita.min()!r} max {ita.max()!r}")
    t = np.interp(-ita, -_PATH_ITA, _PATH_T)
    L0 = np.interp(t, _PATH_T, _PATH_L)
    b0 = np.interp(t, _PATH_T, _PATH_B)
    r = np.hypot(L0 - 50.0, b0) * chroma_scale
    th = np.radians(ita)
    L = 50.0 + r * np.sin(th)
    b = r * np.cos(th)
    a = 9.0 + 5.0 * t  # darker skin is a little redder in a*
    return L, a, b


def _chardon(ita: np.ndarray) -> np.ndarray:
    idx = np.zeros(ita.shape, dtype=np.int64)
    for edge in _CHARDON_EDGES:
        idx += ita <= edge
    return np.asarray(_CHARDON_NAMES, dtype=object)[idx]


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return (0.5 * (1.0 + np.tanh(0.5 * x))).astype(np.float32)


def _smooth_noise(rng: np.random.Generator, size: int, sigma: float) -> np.ndarray:
    """Zero-mean unit-variance Gaussian random field with correlation length ``sigma`` px."""
    f = rng.standard_normal((size, size), dtype=np.float32)
    f = cv2.GaussianBlur(f, (0, 0), sigma, borderType=cv2.BORDER_REFLECT)
    return f / max(float(f.std()), 1e-6)


def _discoid(rng: np.random.Generator, yy: np.ndarray, xx: np.ndarray, size: int
             ) -> tuple[np.ndarray, np.ndarray]:
    """Several round, sharply bounded plaques plus small papules. Returns (alpha, texture)."""
    alpha = np.zeros((size, size), np.float32)
    n_plaques = int(rng.integers(3, 7))
    for _ in range(n_plaques):
        cy, cx = rng.uniform(0.18, 0.82, 2) * size
        rad = rng.uniform(0.06, 0.12) * size
        d = np.sqrt((yy - cy) ** 2 + (xx - cx) ** 2)
        alpha = np.maximum(alpha, _sigmoid(-(d - rad) / (0.012 * size + 0.3)))
    for _ in range(int(rng.integers(4, 10))):
        cy, cx = rng.uniform(0.1, 0.9, 2) * size
        rad = rng.uniform(0.015, 0.03) * size + 0.6
        d = np.sqrt((yy - cy) ** 2 + (xx - cx) ** 2)
        alpha = np.maximum(alpha, 0.9 * _sigmoid(-(d - rad) / 0.5))
    # crusted, slightly darker centres: a fine speckle
    texture = rng.standard_normal((size, size), dtype=np.float32) * 0.6
    return alpha, texture


def _diffuse(rng: np.random.Generator, yy: np.ndarray, xx: np.ndarray, size: int
             ) -> tuple[np.ndarray, np.ndarray]:
    """One ill-defined patch with lichenified cross-hatching. Returns (alpha, texture)."""
    cy, cx = rng.uniform(0.35, 0.65, 2) * size
    ry, rx = rng.uniform(0.22, 0.34, 2) * size
    ang = rng.uniform(0, np.pi)
    dy, dx = yy - cy, xx - cx
    u = (dx * np.cos(ang) + dy * np.sin(ang)) / rx
    v = (-dx * np.sin(ang) + dy * np.cos(ang)) / ry
    d = np.sqrt(u * u + v * v) + 0.35 * _smooth_noise(rng, size, size / 12)
    alpha = _sigmoid(-(d - 1.0) / 0.18)
    period = rng.uniform(0.05, 0.08) * size
    a1, a2 = ang + rng.uniform(0.5, 0.9), ang - rng.uniform(0.5, 0.9)
    g1 = np.sin(2 * np.pi * (xx * np.cos(a1) + yy * np.sin(a1)) / period)
    g2 = np.sin(2 * np.pi * (xx * np.cos(a2) + yy * np.sin(a2)) / period)
    texture = (np.minimum(g1, g2) * 1.6).astype(np.float32)  # furrows along two directions
    return alpha, texture


def render_synthetic(*, n: int, size: int = 96, seed: int = 0, ita: np.ndarray | None = None,
                     labels: np.ndarray | None = None, dark_visibility: float = 1.0,
                     dark_fraction: float = 0.5, lesion_strength: float = 1.0,
                     background: float = 0.3, hair: float = 0.3, specular: float = 0.3,
                     lighting: float = 1.0, noise: float = 1.0) -> SyntheticBatch:
    """Draw ``n`` synthetic skin photographs; see ``synthetic_images`` for the parameters.

    Returns
    -------
    SyntheticBatch with images, meta, lesion masks and healthy-skin truth masks.
    """
    if n < 0 or size < 16:
        raise ValueError(f"need n >= 0 and size >= 16, got n={n!r} size={size!r}")
    if not 0.0 <= dark_visibility <= 1.0:
        raise ValueError(f"dark_visibility must be in [0, 1], got {dark_visibility!r}")
    if not 0.0 <= dark_fraction <= 1.0:
        raise ValueError(f"dark_fraction must be in [0, 1], got {dark_fraction!r}")
    rng = np.random.default_rng(seed)
    if ita is None:
        dark = rng.random(n) < dark_fraction
        ita = np.where(dark, rng.uniform(-55.0, DARK_ITA, n), rng.uniform(DARK_ITA, 62.0, n))
    ita = np.asarray(ita, dtype=np.float64).reshape(-1)
    if ita.shape[0] != n:
        raise ValueError(f"ita has {ita.shape[0]} values for n={n}")
    if labels is None:
        labels = rng.permutation(np.arange(n) % 2)
    labels = np.asarray(labels, dtype=np.int64).reshape(-1)
    if labels.shape[0] != n or np.any((labels != 0) & (labels != 1)):
        raise ValueError("labels must be n values, each 0 or 1")

    chroma = rng.uniform(0.9, 1.1, n)
    L_true, a_true, b_true = skin_colour_for_ita(ita, chroma_scale=chroma)
    vis = np.where(ita < DARK_ITA, dark_visibility, 1.0)

    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
    lab = np.empty((n, size, size, 3), np.float32)
    lesion = np.zeros((n, size, size), bool)
    skin = np.zeros((n, size, size), bool)
    bg_frac = np.zeros(n)
    for i in range(n):
        r = np.random.default_rng([seed, i])
        # uneven light: a linear gradient plus a smooth blob, zero mean over the image
        ang = r.uniform(0, 2 * np.pi)
        grad = ((xx - size / 2) * math.cos(ang) + (yy - size / 2) * math.sin(ang)) / size
        light = float(lighting) * (r.uniform(6, 12) * grad + r.uniform(1.5, 3.5) * _smooth_noise(r, size, size / 6))
        tex = noise * (0.8 * _smooth_noise(r, size, 1.5) + 0.7 * r.standard_normal((size, size), dtype=np.float32))
        alpha, ltex = (_discoid if labels[i] == 1 else _diffuse)(r, yy, xx, size)
        # the true colour is the skin under the median light falling on healthy skin
        light -= np.median(light[alpha <= 0.05]) if np.any(alpha <= 0.05) else light.mean()
        L = float(L_true[i]) + light + tex
        a = float(a_true[i]) + noise * 0.6 * r.standard_normal((size, size), dtype=np.float32) + 0.15 * light
        b = float(b_true[i]) * (1.0 + 0.006 * light) + noise * 0.6 * r.standard_normal((size, size), dtype=np.float32)

        k = float(lesion_strength * vis[i]) * alpha
        L = L - k * (7.0 + 3.0 * ltex)
        a = a + k * (20.0 + 2.0 * ltex)
        b = b + k * 2.0
        lesion[i] = alpha > LESION_ALPHA
        ok = alpha <= 0.05

        if r.random() < specular:  # small bright low-chroma glints
            m = np.zeros((size, size), np.float32)
            for _ in range(int(r.integers(2, 6))):
                cy, cx = r.uniform(0.1, 0.9, 2) * size
                rad = r.uniform(0.01, 0.025) * size + 0.7
                m = np.maximum(m, np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / (2 * rad * rad)))
            L = L + m * (97.0 - L)
            a, b = a * (1 - m), b * (1 - m)
            ok &= m < 0.1
        if r.random() < hair:  # a few dark curved strands
            m = np.zeros((size, size), np.float32)
            for _ in range(int(r.integers(2, 6))):
                p0 = r.uniform(0, size, 2)
                ang_h = r.uniform(0, np.pi)
                curv = r.uniform(-0.01, 0.01)
                tt = np.linspace(-size, size, 4 * size)
                py = p0[0] + tt * np.sin(ang_h) + curv * tt ** 2
                px = p0[1] + tt * np.cos(ang_h)
                pts = np.stack([px, py], 1).round().astype(np.int32)
                canvas = np.zeros((size, size), np.uint8)
                cv2.polylines(canvas, [pts], False, 255, thickness=1)
                m = np.maximum(m, canvas.astype(np.float32) / 255)
            m = cv2.GaussianBlur(m, (3, 3), 0.6)
            L = L * (1 - 0.8 * m) + 12.0 * 0.8 * m
            a, b = a * (1 - 0.6 * m), b * (1 - 0.6 * m) + 3.0 * m
            ok &= m < 0.1
        if r.random() < background:  # a strip of cloth or drape along one edge
            side = int(r.integers(4))
            depth = r.uniform(0.12, 0.25) * size
            coord = (yy, size - 1 - yy, xx, size - 1 - xx)[side]
            wobble = 2.0 * _smooth_noise(r, size, size / 8)
            m = _sigmoid(-(coord + wobble - depth) / 0.8)
            bl, ba, bb = r.choice([[35.0, -2.0, -18.0], [85.0, 0.0, -3.0], [55.0, -25.0, 5.0], [20.0, 0.0, 0.0]])
            L = L * (1 - m) + (bl + 0.5 * light) * m
            a = a * (1 - m) + ba * m
            b = b * (1 - m) + bb * m
            ok &= m < 0.1
            bg_frac[i] = float((m >= 0.5).mean())
        skin[i] = ok
        lab[i, ..., 0] = np.clip(L, 0.0, 100.0)
        lab[i, ..., 1] = a
        lab[i, ..., 2] = b

    rgb = cv2.cvtColor(lab.reshape(n * size, size, 3), cv2.COLOR_Lab2RGB) if n else lab.reshape(0, size, 3)
    images = np.clip(rgb * 255.0 + 0.5, 0, 255).astype(np.uint8).reshape(n, size, size, 3)
    meta = pd.DataFrame({
        "ita_true": ita,
        "L_true": L_true,
        "a_true": a_true,
        "b_true": b_true,
        "label": labels,
        "group_true": np.where(ita < DARK_ITA, "dark", "light"),
        "chardon6_true": _chardon(ita),
        "visibility": vis,
        "lesion_fraction": lesion.reshape(n, -1).mean(1) if n else np.zeros(0),
        "background_fraction": bg_frac,
    })
    return SyntheticBatch(images=images, meta=meta, lesion=lesion, skin=skin)


def synthetic_images(*, n: int, size: int = 96, seed: int = 0, ita: np.ndarray | None = None,
                     labels: np.ndarray | None = None, dark_visibility: float = 1.0,
                     **options) -> tuple[np.ndarray, pd.DataFrame, np.ndarray]:
    """Synthetic skin photographs of known ITA with a class-dependent lesion.

    Parameters
    ----------
    n, size : number of images and their side in pixels.
    seed : everything is drawn from ``np.random.default_rng`` seeded with it; same seed, same
        images.
    ita : (n,) target ITA in degrees within ``ITA_RANGE`` (about -63 to 65); by default a
        ``dark_fraction`` share is drawn uniformly in [-55, 10) and the rest in [10, 62).
    labels : (n,) 0/1 classes; by default balanced and independent of skin tone.
    dark_visibility : lesion contrast on dark skin (true ITA < 10) relative to light skin.
    **options : keyword options of ``render_synthetic``: ``dark_fraction`` (0.5),
        ``lesion_strength`` (1.0), ``background``, ``hair``, ``specular`` (probability per image,
        0.3 each), ``lighting`` and ``noise`` (1.0 = default amplitude, 0 = none).

    Returns
    -------
    images : (n, size, size, 3) uint8 RGB.
    meta : DataFrame with ``ita_true, L_true, a_true, b_true, label, group_true`` ("light" /
        "dark"), ``chardon6_true, visibility, lesion_fraction, background_fraction``.
    lesion : (n, size, size) bool lesion masks.
    """
    batch = render_synthetic(n=n, size=size, seed=seed, ita=ita, labels=labels,
                             dark_visibility=dark_visibility, **options)
    return batch.images, batch.meta, batch.lesion


def make_synthetic_dataset(out: Path, *, n: int = 400, size: int = 96, seed: int = 0,
                           dark_fraction: float = 0.5, dark_visibility: float = 1.0,
                           class_names: tuple[str, str] = ("atopic_dermatitis", "eczema"),
                           bias: float | None = None, **options) -> Path:
    """Write a synthetic two-class dataset of known skin tone.

    Parameters
    ----------
    out : folder to write; created if missing. Images go to ``out/<class>/<id>.png``.
    n, size, seed, dark_fraction, dark_visibility : see ``synthetic_images``.
    class_names : names of class 0 (diffuse lichenified patch) and class 1 (discoid plaques).
    bias : planted-bias strength in [0, 1]; when given, ``dark_visibility = 1 - bias``.
    **options : further keyword options of ``render_synthetic``.

    Returns
    -------
    Path of ``out/manifest.csv`` with columns ``path,label,ita_true,L_true,a_true,b_true,
    group_true,chardon6_true,visibility,lesion_fraction``; ``path`` is relative to ``out``.
    """
    if bias is not None:
        if not 0.0 <= bias <= 1.0:
            raise ValueError(f"bias must be in [0, 1], got {bias!r}")
        dark_visibility = 1.0 - bias
    if len(class_names) != 2 or class_names[0] == class_names[1]:
        raise ValueError(f"class_names must be two distinct names, got {class_names!r}")
    out = Path(out)
    images, meta, _ = synthetic_images(n=n, size=size, seed=seed, dark_visibility=dark_visibility,
                                       dark_fraction=dark_fraction, **options)
    names = np.asarray(class_names, dtype=object)[meta["label"].to_numpy()]
    width = max(4, len(str(max(n - 1, 0))))
    paths = []
    for name in class_names:
        (out / name).mkdir(parents=True, exist_ok=True)
    for i in range(n):
        rel = f"{names[i]}/syn_{i:0{width}d}.png"
        cv2.imwrite(str(out / rel), cv2.cvtColor(images[i], cv2.COLOR_RGB2BGR))
        paths.append(rel)
    manifest = pd.DataFrame({"path": paths, "label": names})
    cols = ["ita_true", "L_true", "a_true", "b_true", "group_true", "chardon6_true", "visibility",
            "lesion_fraction"]
    manifest = pd.concat([manifest, meta[cols].round(4)], axis=1)
    path = out / "manifest.csv"
    manifest.to_csv(path, index=False)
    return path
