"""Dermoscopy artefacts: hair, the dermoscope's black corners, immersion-gel bubbles, a ruler.

The artefacts of SAM-C's "dermoscopy" corruption family (Maron et al., "A benchmark for neural
network robustness in skin cancer classification", Eur J Cancer 2021) and MedMNIST-C's DermaMNIST
``black_corner`` (Di Salvo et al., 2024, github.com/francescodisalvo05/medmnistc-api). Neither
publishes the geometry of its hair, bubble or ruler artefacts as formulas; the ones below are
DermaTrace's, written out so that they can be checked. Lengths are given at a 224-pixel short side
and scale with it: ``s = min(H, W) / 224``. Positions are fractions of the image, so an image gets
the same artefact at any size. Every family occludes and records ``area`` (see
:mod:`perturbations.measure`).

- ``hair``: ``strands`` dark hairs. Strand j, from the image's own generator: a quadratic Bezier
  B(t) = (1-t)² P0 + 2t(1-t) P1 + t² P2 whose chord P0 P2 has its midpoint uniform over the central
  90% of the image, direction uniform in [0°, 180°) and length ``U(0.3, 0.7)`` x the image
  diagonal (it may leave the image); the control point P1 is displaced from the chord's midpoint
  perpendicularly by ``N(0, 0.15)`` x the length (a gentle curve); width
  ``width_px * s * U(0.7, 1.3)``; colour uniform between dark brown (62, 42, 30) and near black
  (18, 14, 12), opacity ``U(0.80, 0.95)``. Coverage is drawn 4x supersampled with
  anti-aliasing and averaged down (``cv2.INTER_AREA``), so a strand covers length x width pixels;
  strands are composited one over another: out = (1 - o c) out + o c colour.
- ``black_corners``: everything farther than r = ``radius_frac`` x the half-diagonal
  sqrt(W² + H²) / 2 from the image centre is black, with a one-pixel anti-aliased edge:
  out = image x clip(r - d + 1/2, 0, 1), d the pixel's distance from the centre ((W-1)/2, (H-1)/2).
  MedMNIST-C's radius is a multiple m of the half short side, m = 1.10, 1.05, 1.00, 0.90, 0.95
  at severities 1..5 (4 and 5 not monotone in its code); on a square image m / sqrt(2) is the
  fraction of the half-diagonal, 0.778, 0.742, 0.707, 0.636, 0.672. DermaTrace keeps those values in
  severity order (0.78, 0.74, 0.71, 0.67, 0.64), so the blacked-out share grows with severity, and
  measures from the half-diagonal so that a non-square image keeps its proportion.
- ``gel_bubbles``: ``bubbles`` round air bubbles in the immersion gel, radius
  ``radius_px * s * U(0.5, 1)``, centres uniform with the bubble inside the image and not
  touching another (rejection sampling, 200 tries each). Inside radius r the skin is seen through a
  weak lens, sampled at c + (p - c) (0.85 + 0.15 (ρ/r)²) and lightened 12% towards white; the rim,
  r <= ρ < r + w with w = max(1.5, 0.18 r), is white at opacity 0.75, and a dark refraction edge of
  width w / 2 (black, opacity 0.3) lies just outside it.
- ``ruler_marks``: a ruler along the ``edge`` (``bottom``, ``top``, ``left`` or ``right``): a band
  ``band_frac`` x the short side deep, off-white (235, 232, 220) at opacity ``band_opacity``; black
  ticks ``max(1, round(s))`` px wide, every ``spacing_frac`` x the short side, tick k centred at
  round((k + 1) x spacing) along the edge, ``0.45`` of the band deep and every fifth ``0.8`` deep,
  starting at the image edge.

Where the protocols are silent (SAM-C publishes images, not code): hair count, width and colour,
bubble count and size, and the ruler's layout are DermaTrace's choices, made to look like the
dermoscopy photographs of ISIC at each severity; the preview grid shows them.
"""
from __future__ import annotations

import math

import cv2
import numpy as np

from perturbations.spec import FamilySpec, seed_sampler

_SS = 4                                               # supersampling of hair strands
_HAIR_DARK = np.array([18.0, 14.0, 12.0])
_HAIR_BROWN = np.array([62.0, 42.0, 30.0])
_RULER_BAND = np.array([235.0, 232.0, 220.0])
EDGES = ("bottom", "top", "left", "right")


def _scale(height: int, width: int) -> float:
    return min(height, width) / 224.0


def _bezier(p0: np.ndarray, p1: np.ndarray, p2: np.ndarray, n: int) -> np.ndarray:
    t = np.linspace(0.0, 1.0, n)[:, None]
    return (1 - t) ** 2 * p0 + 2 * t * (1 - t) * p1 + t**2 * p2


def hair_strands(seed: int, height: int, width: int, *, strands: int, width_px: float) -> list[dict]:
    """The strands of one image: ``points`` (K, 2) x, y in pixels along the curve, ``width``,
    ``colour`` (RGB) and ``opacity``; drawn from ``np.random.default_rng(seed)``."""
    rng = np.random.default_rng(int(seed))
    diag = math.hypot(height, width)
    s = _scale(height, width)
    out = []
    for _ in range(int(strands)):
        mid = np.array([rng.uniform(0.05, 0.95) * width, rng.uniform(0.05, 0.95) * height])
        angle = rng.uniform(0.0, math.pi)
        length = rng.uniform(0.3, 0.7) * diag
        direction = np.array([math.cos(angle), math.sin(angle)])
        p0, p2 = mid - length / 2 * direction, mid + length / 2 * direction
        p1 = mid + rng.normal(0.0, 0.15) * length * np.array([-direction[1], direction[0]])
        w = width_px * s * rng.uniform(0.7, 1.3)
        mix = rng.uniform()
        out.append({"points": _bezier(p0, p1, p2, max(16, int(length / 2))), "width": w,
                    "colour": _HAIR_DARK + mix * (_HAIR_BROWN - _HAIR_DARK),
                    "opacity": rng.uniform(0.80, 0.95)})
    return out


def strand_coverage(points: np.ndarray, width: float, height: int, image_width: int) -> tuple:
    """Anti-aliased coverage (0..1, float32) of a strand in its bounding box: ``(coverage, y0, x0)``,
    or None when the strand misses the image."""
    pad = width / 2 + 2
    x0 = max(0, int(math.floor(points[:, 0].min() - pad)))
    y0 = max(0, int(math.floor(points[:, 1].min() - pad)))
    x1 = min(image_width, int(math.ceil(points[:, 0].max() + pad)))
    y1 = min(height, int(math.ceil(points[:, 1].max() + pad)))
    if x1 <= x0 or y1 <= y0:
        return None
    canvas = np.zeros(((y1 - y0) * _SS, (x1 - x0) * _SS), dtype=np.uint8)
    shift = 4                                          # cv2 fixed point: 1/16 px
    pts = np.rint((points - [x0, y0]) * _SS * 2**shift + (_SS / 2 - 0.5) * 2**shift).astype(np.int32)
    thick = max(1, int(round(width * _SS)) - 2)       # cv2's anti-aliased line is 2 px wider
    cv2.polylines(canvas, [pts.reshape(-1, 1, 2)], False, 255, thickness=thick,
                  lineType=cv2.LINE_AA, shift=shift)
    small = cv2.resize(canvas, (x1 - x0, y1 - y0), interpolation=cv2.INTER_AREA)
    return small.astype(np.float32) / 255.0, y0, x0


def hair(images: np.ndarray, *, strands: int, width_px: float, hair_seeds: np.ndarray) -> np.ndarray:
    """Draw ``strands`` dark hairs of about ``width_px`` pixels (at 224 px) on each image.

    Parameters
    ----------
    images : np.ndarray
        uint8 sRGB batch (N, H, W, 3).
    strands : int
        Hairs per image.
    width_px : float
        Mean hair width at a 224-pixel short side (scaled with the image).
    hair_seeds : np.ndarray
        (N,) one seed per image: the strands' geometry and colour (:func:`hair_strands`).

    Returns
    -------
    np.ndarray
        uint8 batch of the same shape.
    """
    out = np.empty_like(images)
    n, h, w = images.shape[:3]
    for i in range(n):
        img = images[i].astype(np.float32)
        for strand in hair_strands(int(hair_seeds[i]), h, w, strands=strands, width_px=width_px):
            cov = strand_coverage(strand["points"], strand["width"], h, w)
            if cov is None:
                continue
            c, y0, x0 = cov
            a = (c * np.float32(strand["opacity"]))[..., None]
            region = img[y0:y0 + c.shape[0], x0:x0 + c.shape[1]]
            region += a * (strand["colour"].astype(np.float32) - region)
        out[i] = np.clip(np.rint(img), 0, 255)
    return out


def keep_weights(height: int, width: int, radius_frac: float) -> np.ndarray:
    """float32 (H, W): 1 inside the circle of ``radius_frac`` x the half-diagonal, 0 outside, a
    one-pixel linear edge between."""
    r = radius_frac * math.hypot(height, width) / 2
    y, x = np.ogrid[:height, :width]
    d = np.sqrt((x - (width - 1) / 2) ** 2 + (y - (height - 1) / 2) ** 2)
    return np.clip(r - d + 0.5, 0.0, 1.0).astype(np.float32)


def black_corners(images: np.ndarray, *, radius_frac: float) -> np.ndarray:
    """Black out everything outside a centred circle of ``radius_frac`` x the half-diagonal."""
    keep = keep_weights(images.shape[1], images.shape[2], radius_frac)[None, ..., None]
    return np.rint(images * keep).astype(np.uint8)


def bubble_layout(seed: int, height: int, width: int, *, bubbles: int, radius_px: float) -> list:
    """The bubbles of one image: ``(cx, cy, r)`` in pixels, inside the image and not touching."""
    rng = np.random.default_rng(int(seed))
    s = _scale(height, width)
    placed: list[tuple[float, float, float]] = []
    for _ in range(int(bubbles)):
        r = radius_px * s * rng.uniform(0.5, 1.0)
        reach = r + rim_width(r) * 1.5 + 1
        for _try in range(200):
            cx = rng.uniform(reach, width - reach)
            cy = rng.uniform(reach, height - reach)
            if all(math.hypot(cx - x, cy - y) > reach + q + rim_width(q) * 1.5 + 3 for x, y, q in placed):
                placed.append((cx, cy, r))
                break
    return placed


def rim_width(r: float) -> float:
    """Width in pixels of a bubble's bright rim."""
    return max(1.5, 0.18 * r)


def _ring(d: np.ndarray, inner: float, outer: float) -> np.ndarray:
    """Anti-aliased indicator of inner <= d < outer."""
    return np.clip(np.minimum(d - inner + 0.5, outer - d + 0.5), 0.0, 1.0)


def gel_bubbles(images: np.ndarray, *, bubbles: int, radius_px: float,
                bubble_seeds: np.ndarray) -> np.ndarray:
    """Add ``bubbles`` air bubbles of up to ``radius_px`` pixels (at 224 px) to each image."""
    out = np.empty_like(images)
    n, h, w = images.shape[:3]
    for i in range(n):
        src = images[i]
        img = src.astype(np.float32)
        for cx, cy, r in bubble_layout(int(bubble_seeds[i]), h, w, bubbles=bubbles, radius_px=radius_px):
            rw = rim_width(r)
            reach = int(math.ceil(r + 1.5 * rw + 2))
            x0, x1 = max(0, int(cx) - reach), min(w, int(cx) + reach + 1)
            y0, y1 = max(0, int(cy) - reach), min(h, int(cy) + reach + 1)
            yy, xx = np.mgrid[y0:y1, x0:x1].astype(np.float32)
            dx, dy = xx - cx, yy - cy
            d = np.sqrt(dx**2 + dy**2)
            inside = np.clip(r - d + 0.5, 0.0, 1.0)[..., None]
            m = 0.85 + 0.15 * np.minimum(d / r, 1.0) ** 2
            lens = cv2.remap(src, (cx + dx * m).astype(np.float32), (cy + dy * m).astype(np.float32),
                             cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT_101).astype(np.float32)
            lens += 0.12 * (255.0 - lens)
            region = img[y0:y1, x0:x1]
            region += inside * (lens - region)
            rim = (0.75 * _ring(d, r, r + rw))[..., None]
            region += rim * (255.0 - region)
            edge = (0.3 * _ring(d, r + rw, r + 1.5 * rw))[..., None]
            region -= edge * region
        out[i] = np.clip(np.rint(img), 0, 255)
    return out


def tick_positions(length: int, short_side: int, spacing_frac: float) -> np.ndarray:
    """Centres (pixel index along the edge) of the ruler's ticks: round((k + 1) x spacing)."""
    spacing = spacing_frac * short_side
    k = np.arange(int(length / spacing) + 1)
    pos = np.rint((k + 1) * spacing).astype(int)
    return pos[pos < length]


def ruler_marks(images: np.ndarray, *, edge: str, band_frac: float, band_opacity: float,
                spacing_frac: float) -> np.ndarray:
    """Lay a ruler along one ``edge``: a light band with black ticks (see the module docstring)."""
    if edge not in EDGES:
        raise ValueError(f"edge: expected one of {EDGES}, got {edge!r}")
    n, h, w = images.shape[:3]
    out = images.astype(np.float32)
    # work on a view in which the ruler lies along the bottom edge
    view = {"bottom": out, "top": out[:, ::-1], "left": np.swapaxes(out, 1, 2)[:, ::-1],
            "right": np.swapaxes(out, 1, 2)}[edge]
    length, depth_max = view.shape[2], view.shape[1]
    short = min(h, w)
    depth = min(depth_max, max(2, int(round(band_frac * short))))
    band = view[:, depth_max - depth:]
    band += np.float32(band_opacity) * (_RULER_BAND.astype(np.float32) - band)
    tick_w = max(1, int(round(_scale(h, w))))
    for k, centre in enumerate(tick_positions(length, short, spacing_frac)):
        deep = int(round((0.8 if (k + 1) % 5 == 0 else 0.45) * depth))
        lo = max(0, centre - tick_w // 2)
        view[:, depth_max - deep:, lo:lo + tick_w] = 10.0
    return np.clip(np.rint(out), 0, 255).astype(np.uint8)


SPECS = [
    FamilySpec(
        name="hair", kernel=hair, kind="occlusion", sample=seed_sampler("hair_seeds"),
        credit="SAM-C (Maron et al. 2021) dermoscopy artefacts; geometry DermaTrace's",
        summary=("hair over the lesion: strands dark curved hairs about width_px wide (at 224 px),"
                 " drawn per image"),
        table={1: {"strands": 3, "width_px": 1.6}, 2: {"strands": 8, "width_px": 1.8},
               3: {"strands": 15, "width_px": 2.0}, 4: {"strands": 25, "width_px": 2.2},
               5: {"strands": 40, "width_px": 2.4}},
    ),
    FamilySpec(
        name="black_corners", kernel=black_corners, kind="occlusion",
        credit="MedMNIST-C black_corner (Di Salvo et al. 2024), radii in severity order",
        summary=("dermoscope vignette: black outside a centred circle of radius_frac x the "
                 "half-diagonal"),
        table={1: {"radius_frac": 0.78}, 2: {"radius_frac": 0.74}, 3: {"radius_frac": 0.71},
               4: {"radius_frac": 0.67}, 5: {"radius_frac": 0.64}},
    ),
    FamilySpec(
        name="gel_bubbles", kernel=gel_bubbles, kind="occlusion", sample=seed_sampler("bubble_seeds"),
        credit="SAM-C (Maron et al. 2021) dermoscopy artefacts; geometry DermaTrace's",
        summary=("immersion-gel air bubbles: bubbles round bubbles up to radius_px (at 224 px) with a"
                 " bright rim, placed per image"),
        table={1: {"bubbles": 2, "radius_px": 8.0}, 2: {"bubbles": 4, "radius_px": 10.0},
               3: {"bubbles": 7, "radius_px": 12.0}, 4: {"bubbles": 11, "radius_px": 14.0},
               5: {"bubbles": 16, "radius_px": 16.0}},
    ),
    FamilySpec(
        name="ruler_marks", kernel=ruler_marks, kind="occlusion",
        credit="SAM-C (Maron et al. 2021) dermoscopy artefacts; layout DermaTrace's",
        summary=("a ruler along the edge: a band of band_frac x the short side with a tick every "
                 "spacing_frac"),
        table={1: {"edge": "bottom", "band_frac": 0.04, "band_opacity": 0.0, "spacing_frac": 0.05},
               2: {"edge": "bottom", "band_frac": 0.06, "band_opacity": 0.5, "spacing_frac": 0.05},
               3: {"edge": "bottom", "band_frac": 0.08, "band_opacity": 0.7, "spacing_frac": 0.05},
               4: {"edge": "bottom", "band_frac": 0.11, "band_opacity": 0.85, "spacing_frac": 0.05},
               5: {"edge": "bottom", "band_frac": 0.14, "band_opacity": 0.95, "spacing_frac": 0.05}},
    ),
]
