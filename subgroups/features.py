"""Colour statistics of an image's skin, for the ITA and the Fitzpatrick estimate.

A feature is named ``<region>.<variable>.<statistic>``:

* region: ``skin`` (the healthy-skin mask), ``cand`` (skin-coloured pixels before the lesion and
  outliers are removed) or ``image`` (every pixel inside the border);
* variable: ``L``, ``a``, ``b`` (CIELAB), ``ita`` (per-pixel ITA), ``hue`` (atan2(b*, a*)),
  ``C`` (chroma), ``R``, ``G``, ``B`` (sRGB 0-255);
* statistic: ``p5``, ``p10``, ``p25``, ``p50``, ``p75``, ``p90``, ``p95`` or ``mean``.

A leading ``x.`` reads the same statistic from the exposure-normalised image (``expose``: every
channel scaled so that the 97th percentile of the brightest channel inside the border becomes
230), which takes out most of the photograph's exposure while keeping its hue. ``skin_fraction``
is a feature too.

Every variable is an 8-bit code per pixel (the mask's bins of the image's CIELAB,
``subgroups.mask.lab_codes``, and lookup tables from those to ITA, hue and chroma codes), so each
statistic comes from one 256-bin histogram.
"""
from __future__ import annotations

import functools
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from subgroups.lab import rgb_to_lab
from subgroups.mask import L_SCALE, MaskResult, count, lab_codes, percentiles_from_counts

__all__ = [
    "EXPOSURE_PERCENTILE",
    "EXPOSURE_TARGET",
    "REGIONS",
    "STATISTICS",
    "STRIDE",
    "VARIABLES",
    "decode",
    "expose",
    "feature_names",
    "feature_vector",
    "image_features",
]

EXPOSURE_PERCENTILE = 97.0
EXPOSURE_TARGET = 230.0
#: Statistics read every STRIDE-th pixel in each direction (3,136 pixels of a 224 px image).
STRIDE = 4

REGIONS = ("skin", "cand", "image")
VARIABLES = ("L", "a", "b", "ita", "hue", "C", "R", "G", "B")
STATISTICS = ("p5", "p10", "p25", "p50", "p75", "p90", "p95", "mean")

_codes = np.arange(256, dtype=np.float64)
_A, _B = np.meshgrid(_codes - 128.0, _codes - 128.0, indexing="ij")  # [a8, b8]
_Lc, _Bc = np.meshgrid(_codes * L_SCALE, _codes - 128.0, indexing="ij")  # [L8, b8]
_ITA = np.degrees(np.arctan2(_Lc - 50.0, _Bc))
_ITA_LUT = np.clip(np.rint((_ITA + 90.0) * 255.0 / 180.0), 0, 255).astype(np.uint8)
_HUE = np.degrees(np.arctan2(_B, _A))
_HUE_LUT = np.clip(np.rint((_HUE + 180.0) * 255.0 / 360.0), 0, 255).astype(np.uint8)
_C_LUT = np.clip(np.rint(np.hypot(_A, _B) * 2.0), 0, 255).astype(np.uint8)


# physical value = code * scale + offset
_DECODE = {"L": (L_SCALE, 0.0), "a": (1.0, -128.0), "b": (1.0, -128.0), "ita": (180.0 / 255.0, -90.0),
           "hue": (360.0 / 255.0, -180.0), "C": (0.5, 0.0), "R": (1.0, 0.0), "G": (1.0, 0.0),
           "B": (1.0, 0.0)}


def decode(variable: str, codes: np.ndarray | float) -> np.ndarray | float:
    """Physical value of a variable's 8-bit code (fractional codes allowed)."""
    if variable not in _DECODE:
        raise ValueError(f"unknown variable {variable!r}; known: {VARIABLES}")
    scale, offset = _DECODE[variable]
    return np.asarray(codes, dtype=np.float64) * scale + offset


def _variable_codes(variable: str, image: np.ndarray, codes: np.ndarray) -> np.ndarray:
    if variable == "L":
        return codes[..., 0]
    if variable == "a":
        return codes[..., 1]
    if variable == "b":
        return codes[..., 2]
    if variable == "ita":
        return _ITA_LUT[codes[..., 0], codes[..., 2]]
    if variable == "hue":
        return _HUE_LUT[codes[..., 1], codes[..., 2]]
    if variable == "C":
        return _C_LUT[codes[..., 1], codes[..., 2]]
    if variable in ("R", "G", "B"):
        return image[..., "RGB".index(variable)]
    raise ValueError(f"unknown variable {variable!r}; known: {VARIABLES}")


def feature_names(regions: Iterable[str] = REGIONS, variables: Iterable[str] = VARIABLES,
                  statistics: Iterable[str] = STATISTICS) -> list[str]:
    """All ``region.variable.statistic`` names of the given parts."""
    return [f"{r}.{v}.{s}" for r in regions for v in variables for s in statistics]


def expose(image: np.ndarray, inside: np.ndarray) -> np.ndarray:
    """The image with every channel scaled so that the ``EXPOSURE_PERCENTILE`` of its brightest
    channel over ``inside`` becomes ``EXPOSURE_TARGET`` (uint8, clipped)."""
    brightest = image.max(axis=-1)[inside]
    if brightest.size == 0:
        return image
    ref = float(percentiles_from_counts(np.bincount(brightest, minlength=256).astype(np.float64),
                                        np.array([EXPOSURE_PERCENTILE]))[0])
    gain = EXPOSURE_TARGET / max(ref, 1.0)
    lut = np.clip(np.floor(_codes * gain), 0, 255).astype(np.uint8)
    return lut[image]


_FALLBACK = {"skin": "cand", "cand": "image", "image": None}
@dataclass(frozen=True)
class _Plan:
    """Feature names compiled into histogram rows and statistics."""

    names: tuple[str, ...]
    variables: tuple[str, ...]             # variables needed (histogram rows per region)
    regions: tuple[str, ...]               # regions needed
    exposed: bool                          # any ``x.`` feature
    row: np.ndarray                        # (F,) row into the stacked histograms, -1 = skin_fraction
    q: np.ndarray                          # (F,) percentile, NaN = mean
    scale: np.ndarray
    offset: np.ndarray


@functools.lru_cache(maxsize=32)
def _compile(names: tuple[str, ...]) -> _Plan:
    parsed = []
    for n in names:
        if n == "skin_fraction":
            parsed.append((False, None, None, None))
            continue
        exposed = n.startswith("x.")
        parsed.append((exposed, *_parse(n[2:] if exposed else n)))
    variables = tuple(v for v in VARIABLES if any(p[2] == v for p in parsed))
    regions = tuple(r for r in REGIONS if any(p[1] == r for p in parsed))
    nv, nr = len(variables), len(regions)
    row, q, scale, offset = [], [], [], []
    for exposed, r, v, st in parsed:
        if r is None:
            row.append(-1)
            q.append(np.nan)
            scale.append(1.0)
            offset.append(0.0)
            continue
        row.append((nr * nv if exposed else 0) + regions.index(r) * nv + variables.index(v))
        q.append(np.nan if st == "mean" else float(st[1:]))
        scale.append(_DECODE[v][0])
        offset.append(_DECODE[v][1])
    return _Plan(names=names, variables=variables, regions=regions,
                 exposed=any(p[0] for p in parsed), row=np.asarray(row), q=np.asarray(q),
                 scale=np.asarray(scale), offset=np.asarray(offset))


def _histograms(image: np.ndarray, codes: np.ndarray, part: np.ndarray,
                variables: tuple[str, ...]) -> np.ndarray:
    """(3, V, 256) cumulative histograms: [0] skin, [1] candidates, [2] inside the border.

    ``part`` labels each pixel 0 skin, 1 other candidate, 2 other inside, 3 border; the three
    regions are nested (skin within candidates within the image), so one histogram per part,
    summed, gives all three.
    """
    nv = len(variables)
    keep = part < 3
    values = np.stack([_variable_codes(v, image, codes)[keep] for v in variables]).astype(np.intp)
    comb = (part[keep].astype(np.intp)[None, :] * nv + np.arange(nv, dtype=np.intp)[:, None]) * 256 + values
    h = np.bincount(comb.ravel(), minlength=3 * nv * 256).reshape(3, nv, 256).astype(np.float64)
    return np.cumsum(h, axis=0)


def feature_vector(image: np.ndarray, result: MaskResult, names: Iterable[str], *,
                   stride: int = STRIDE, min_pixels: int = 16) -> np.ndarray:
    """Values of the named features of one image, in the order of ``names`` (float64).

    Parameters
    ----------
    image : (H, W, 3) uint8 RGB; result : its masks (``analyse_image``).
    names : feature names (``[x.]region.variable.statistic`` or ``skin_fraction``).
    stride : statistics read every ``stride``-th pixel in each direction (speed; the masks
        themselves are full resolution).
    min_pixels : a region with fewer sampled pixels falls back to the next wider one
        (skin -> cand -> image).
    """
    plan = _compile(tuple(names))
    sl = (slice(None, None, stride), slice(None, None, stride))
    inside = result.inside[sl]
    part = np.full(inside.shape, 3, np.uint8)
    part[inside] = 2
    part[result.candidate[sl]] = 1
    part[result.skin[sl]] = 0
    counts = np.cumsum(np.bincount(part.ravel(), minlength=4)[:3])
    which = []
    for r in plan.regions:
        level = REGIONS.index(r)
        while level < 2 and counts[level] < min_pixels:
            level += 1
        which.append(level)
    out = np.full(len(plan.names), np.nan)
    feat = plan.row >= 0
    if plan.variables:
        sub = np.ascontiguousarray(image[sl])
        blocks = [_histograms(sub, result.codes[sl], part, plan.variables)[which]]
        if plan.exposed:
            sub_x = expose(sub, inside)
            blocks.append(_histograms(sub_x, lab_codes(rgb_to_lab(sub_x)), part, plan.variables)[which])
        Hs = np.concatenate(blocks).reshape(-1, 256)
        n = Hs.sum(1)
        cum = np.cumsum(Hs, axis=1)
        rows = plan.row[feat]
        q = plan.q[feat]
        pct = ~np.isnan(q)
        code = np.full(len(rows), np.nan)
        # percentiles: linear within the bin holding the target rank (bin centres at code)
        r_p = rows[pct]
        target = q[pct] / 100.0 * n[r_p]
        idx = np.minimum((cum[r_p] < target[:, None]).sum(1), 255)
        prev = np.where(idx > 0, cum[r_p, np.maximum(idx - 1, 0)], 0.0)
        inbin = Hs[r_p, idx]
        frac = np.where(inbin > 0, (target - prev) / np.maximum(inbin, 1e-12), 0.5)
        code[pct] = np.where(n[r_p] > 0, idx + np.clip(frac, 0.0, 1.0) - 0.5, np.nan)
        r_m = rows[~pct]
        with np.errstate(invalid="ignore", divide="ignore"):
            code[~pct] = (Hs[r_m] @ _codes) / n[r_m]
        out[feat] = code * plan.scale[feat] + plan.offset[feat]
    out[~feat] = count(result.skin) / result.skin.size
    return out


def image_features(image: np.ndarray, result: MaskResult, names: Iterable[str], *,
                   stride: int = STRIDE) -> dict[str, float]:
    """Values of the named features of one image as a dict (see ``feature_vector``)."""
    names = tuple(names)
    return dict(zip(names, feature_vector(image, result, names, stride=stride).tolist()))


def _parse(name: str) -> tuple[str, str, str]:
    parts = name.split(".")
    if len(parts) != 3 or parts[0] not in REGIONS or parts[1] not in VARIABLES or parts[2] not in STATISTICS:
        raise ValueError(f"bad feature name {name!r}; expected [x.]region.variable.statistic with "
                         f"region in {REGIONS}, variable in {VARIABLES}, statistic in {STATISTICS}, "
                         "or skin_fraction")
    return parts[0], parts[1], parts[2]
