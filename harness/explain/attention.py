"""Where a model looks, and how much that moves: kernels over Grad-CAM heatmaps.

Everything here is pure numpy (no TensorFlow): heatmaps in, numbers out.

Conventions
-----------
- A heatmap batch is ``(N, h, w)``, non-negative, on the feature map's native grid (7 x 7 for
  MobileNetV2 at 224 px), as :class:`harness.explain.gradcam.GradCam` returns it. Maps are *not*
  normalised per image; every metric below is invariant to a positive scale of either map except
  where a docstring says otherwise.
- ``size`` is always ``(height, width)`` -- the image array's ``shape[1:3]`` -- never the
  ``(width, height)`` order of cv2.
- Upsampling to ``size`` is bilinear with cv2's pixel-centre convention (``cv2.INTER_LINEAR``),
  done as two small matrix products so that a map's upsampled values depend on that map alone
  (not on which batch it came in).
- A value that is undefined for an image (an all-zero heatmap has no direction, rank order or
  centroid) is NaN in the per-image arrays; :func:`summarise_drift` leaves such images out and
  counts them (``n_undefined``), so nothing JSON-bound ever carries a NaN.
"""
from __future__ import annotations

import math
import zlib
from collections.abc import Mapping, Sequence

import cv2
import numpy as np
from scipy.stats import rankdata

from harness.config import clashes_with_builtin_share

# Per-image drift metrics, in the order drift() returns them, with how to read them:
# "similarity" -- 1 means the heatmaps agree; "distance" -- 0 means they agree.
#: Names the drift formulas below; change it whenever a cached drift value could change.
DRIFT_VERSION = "drift-1"
DRIFT_METRICS: dict[str, str] = {
    "spearman": "similarity",
    "cosine": "similarity",
    "ssim": "similarity",
    "iou_top10": "similarity",
    "iou_top20": "similarity",
    "centroid_shift": "distance",
}

# DermNet NZ images carry a white watermark (the DermNet logo, or "Te Whatu Ora / Health New
# Zealand") in the lower left. Box as fractions of the image (x0, y0, x1, y1), measured on the
# near-white pixels averaged over the DermNet NZ test split; it holds for any resize of the
# 640 x 480 originals because it is given in fractions.
DERMNET_WATERMARK: tuple[float, float, float, float] = (0.07, 0.66, 0.43, 0.94)

# SSIM constants of Wang et al. (2004) for data in [0, 1], Gaussian window sigma 1.5 (as
# skimage.metrics.structural_similarity with gaussian_weights=True, use_sample_covariance=False).
_SSIM_SIGMA = 1.5
_SSIM_TRUNCATE = 3.5
_SSIM_C1 = 0.01**2
_SSIM_C2 = 0.03**2
_TOP = (0.10, 0.20)
_CHUNK = 64  # images per block of upsampled maps (64 x 224 x 224 float32 = 12 MiB per map batch)


def _as_maps(heatmaps: np.ndarray, name: str) -> np.ndarray:
    maps = np.asarray(heatmaps)
    if maps.ndim != 3:
        raise ValueError(f"{name} must be a batch of heatmaps (N, h, w), got shape {maps.shape}")
    if not np.issubdtype(maps.dtype, np.floating) and not np.issubdtype(maps.dtype, np.integer):
        raise TypeError(f"{name} must be numeric, got dtype {maps.dtype}")
    return maps.astype(np.float64, copy=False)


def _check_size(size) -> tuple[int, int]:
    if len(size) != 2 or int(size[0]) <= 0 or int(size[1]) <= 0:
        raise ValueError(f"size must be (height, width) of positive ints, got {size!r}")
    return int(size[0]), int(size[1])


def _linear_resize_matrix(n_in: int, n_out: int) -> np.ndarray:
    """(n_out, n_in) matrix of cv2.INTER_LINEAR weights along one axis (half-pixel centres,
    edge samples clamped)."""
    src = (np.arange(n_out, dtype=np.float64) + 0.5) * (n_in / n_out) - 0.5
    src = np.clip(src, 0.0, n_in - 1)
    lo = np.floor(src).astype(int)
    hi = np.minimum(lo + 1, n_in - 1)
    frac = src - lo
    mat = np.zeros((n_out, n_in), dtype=np.float64)
    rows = np.arange(n_out)
    np.add.at(mat, (rows, lo), 1.0 - frac)
    np.add.at(mat, (rows, hi), frac)
    return mat


def upsample(heatmaps: np.ndarray, *, size: tuple[int, int], dtype=np.float64) -> np.ndarray:
    """Bilinear upsampling of a heatmap batch to ``size``.

    Parameters
    ----------
    heatmaps : (N, h, w) array
    size : (height, width) of the result.
    dtype : float dtype of the result (and of the arithmetic).

    Returns
    -------
    (N, height, width) array. Matches ``cv2.resize(..., interpolation=cv2.INTER_LINEAR)`` to
    float rounding; non-negative maps stay non-negative.
    """
    maps = _as_maps(heatmaps, "heatmaps")
    height, width = _check_size(size)
    rows = _linear_resize_matrix(maps.shape[1], height).astype(dtype)
    cols = _linear_resize_matrix(maps.shape[2], width).astype(dtype)
    # (N, h, w) -> (N, h, width) -> (N, height, width): two batched matrix products.
    return np.matmul(rows, np.matmul(maps.astype(dtype), cols.T))


def _corr_rows(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Row-wise sum(a*b) / sqrt(sum(a*a) * sum(b*b)); NaN where either row is all zero.

    Written with one square root of the product so that identical rows give exactly 1.
    """
    num = np.einsum("ij,ij->i", a, b)
    den = np.sqrt(np.einsum("ij,ij->i", a, a) * np.einsum("ij,ij->i", b, b))
    out = np.full(a.shape[0], np.nan)
    ok = den > 0
    out[ok] = np.clip(num[ok] / den[ok], -1.0, 1.0)
    return out


def _spearman_rows(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Row-wise Spearman rank correlation (average ranks for ties); NaN for a constant row."""
    ra = rankdata(a, axis=1)
    rb = rankdata(b, axis=1)
    ra -= ra.mean(axis=1, keepdims=True)
    rb -= rb.mean(axis=1, keepdims=True)
    return _corr_rows(ra, rb)


def _peak_normalised(up: np.ndarray) -> np.ndarray:
    """Each map divided by its maximum (all-zero maps stay zero)."""
    peak = up.reshape(len(up), -1).max(axis=1)
    return up / np.where(peak > 0, peak, 1).astype(up.dtype)[:, None, None]


def ssim(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Mean SSIM per image of two (N, H, W) batches with values in [0, 1].

    Gaussian window (sigma 1.5, truncated at 3.5 sigma: 11 x 11), population covariances,
    reflected borders, the mean taken away from a border of half a window -- the number
    ``skimage.metrics.structural_similarity(a, b, data_range=1, gaussian_weights=True,
    sigma=1.5, use_sample_covariance=False)`` gives, for a whole batch at once (float32
    arithmetic; agrees with skimage to about 1e-6).
    """
    a = np.asarray(a, dtype=np.float32)
    b = np.asarray(b, dtype=np.float32)
    if a.ndim != 3 or a.shape != b.shape:
        raise ValueError(f"a and b must be two (N, H, W) batches of one shape, got {a.shape} and {b.shape}")
    pad = int(_SSIM_TRUNCATE * _SSIM_SIGMA + 0.5)
    win = 2 * pad + 1
    if min(a.shape[1:]) < win:
        raise ValueError(f"SSIM needs images of at least {win}x{win}, got {a.shape[1:]}")
    out = np.empty(len(a), dtype=np.float64)
    for i in range(len(a)):
        x, y = a[i], b[i]

        def blur(img: np.ndarray) -> np.ndarray:
            return cv2.GaussianBlur(img, (win, win), _SSIM_SIGMA, borderType=cv2.BORDER_REFLECT)

        ux, uy = blur(x), blur(y)
        uxx, uyy, uxy = ux * ux, uy * uy, ux * uy
        vxx = blur(x * x) - uxx
        vyy = blur(y * y) - uyy
        vxy = blur(x * y) - uxy
        s = ((2 * uxy + _SSIM_C1) * (2 * vxy + _SSIM_C2)) / (
            (uxx + uyy + _SSIM_C1) * (vxx + vyy + _SSIM_C2))
        out[i] = s[pad: s.shape[0] - pad, pad: s.shape[1] - pad].mean(dtype=np.float64)
    return out


def _top_masks(flat: np.ndarray, fractions: Sequence[float]) -> list[np.ndarray]:
    """Per row and fraction: the pixels at or above the k-th largest value
    (k = ceil(fraction * n)), zeros excluded (an all-zero tail is not "where the model looks")."""
    m = flat.shape[1]
    ks = [max(1, math.ceil(f * m)) for f in fractions]
    part = np.partition(flat, sorted({m - k for k in ks}), axis=1)
    return [(flat >= part[:, m - k][:, None]) & (flat > 0) for k in ks]


def _iou_rows(ma: np.ndarray, mb: np.ndarray) -> np.ndarray:
    inter = np.count_nonzero(ma & mb, axis=1)
    union = np.count_nonzero(ma | mb, axis=1)
    out = np.full(ma.shape[0], np.nan)
    ok = union > 0
    out[ok] = inter[ok] / union[ok]
    return out


def _centroids(up: np.ndarray) -> np.ndarray:
    """(N, 2) centre of mass (y, x) in pixels (pixel centres at integer coordinates); NaN rows
    for all-zero maps."""
    rows = up.sum(axis=2, dtype=np.float64)
    cols = up.sum(axis=1, dtype=np.float64)
    mass = rows.sum(axis=1)
    cy = rows @ np.arange(up.shape[1], dtype=np.float64)
    cx = cols @ np.arange(up.shape[2], dtype=np.float64)
    out = np.full((len(up), 2), np.nan)
    ok = mass > 0
    out[ok, 0] = cy[ok] / mass[ok]
    out[ok, 1] = cx[ok] / mass[ok]
    return out


def drift(clean: np.ndarray, perturbed: np.ndarray, *, size: tuple[int, int]) -> dict[str, np.ndarray]:
    """How far each perturbed heatmap moved from its clean one.

    Parameters
    ----------
    clean, perturbed : (N, h, w) non-negative heatmaps on the native grid, row-aligned.
    size : (height, width) of the images; maps are upsampled to it for the pixel-level metrics.

    Returns
    -------
    dict of (N,) float64 arrays, in :data:`DRIFT_METRICS` order:

    - ``spearman``: rank correlation of the two native-grid maps (ties get average ranks).
    - ``cosine``: cosine similarity of the two native-grid maps.
    - ``ssim``: SSIM of the upsampled maps, each scaled to peak 1 first (SSIM is not scale-free;
      the peak scaling makes it so).
    - ``iou_top10`` / ``iou_top20``: intersection over union of the top 10% / 20% pixels of the
      upsampled maps (zero pixels never count as "top").
    - ``centroid_shift``: distance between the maps' centres of mass on the upsampled grid, as a
      fraction of the image diagonal (0 = same place, 1 = opposite corners).

    Identical maps give exactly spearman 1, cosine 1, ssim 1, IoU 1 and centroid shift 0 (set
    so, not left to the rounding of the arithmetic). An all-zero map (no positive evidence
    anywhere) makes every metric NaN for that image.
    """
    a = _as_maps(clean, "clean")
    b = _as_maps(perturbed, "perturbed")
    if a.shape != b.shape:
        raise ValueError(f"clean and perturbed must have the same shape, got {a.shape} and {b.shape}")
    height, width = _check_size(size)
    n = len(a)
    out = {key: np.full(n, np.nan) for key in DRIFT_METRICS}
    if n == 0:
        return out
    fa = a.reshape(n, -1)
    fb = b.reshape(n, -1)
    both = (fa.max(axis=1) > 0) & (fb.max(axis=1) > 0)
    out["spearman"] = _spearman_rows(fa, fb)
    out["cosine"] = _corr_rows(fa, fb)
    diagonal = math.hypot(height, width)
    # Pixel-level metrics in float32, a bounded number of images at a time.
    for start in range(0, n, _CHUNK):
        sl = slice(start, min(n, start + _CHUNK))
        ua = upsample(a[sl], size=(height, width), dtype=np.float32)
        ub = upsample(b[sl], size=(height, width), dtype=np.float32)
        flat_a = ua.reshape(len(ua), -1)
        flat_b = ub.reshape(len(ub), -1)
        for key, ma, mb in zip(("iou_top10", "iou_top20"), _top_masks(flat_a, _TOP),
                               _top_masks(flat_b, _TOP)):
            out[key][sl] = _iou_rows(ma, mb)
        out["centroid_shift"][sl] = np.linalg.norm(_centroids(ua) - _centroids(ub), axis=1) / diagonal
        out["ssim"][sl] = ssim(_peak_normalised(ua), _peak_normalised(ub))
    # Identical maps agree exactly by definition, whatever the rounding of the arithmetic above.
    same = np.all(fa == fb, axis=1)
    for key, kind in DRIFT_METRICS.items():
        out[key][same] = 1.0 if kind == "similarity" else 0.0
    return {key: np.where(both, out[key], np.nan) for key in DRIFT_METRICS}


def shift_images(images: np.ndarray, *, pixels: int = 1) -> np.ndarray:
    """Shift a uint8 batch ``pixels`` to the right, repeating the left edge column (no wrap)."""
    images = np.asarray(images)
    if images.ndim != 4:
        raise ValueError(f"images must be (N, H, W, C), got shape {images.shape}")
    if pixels <= 0 or pixels >= images.shape[2]:
        raise ValueError(f"pixels must be in 1..{images.shape[2] - 1}, got {pixels!r}")
    edge = np.repeat(images[:, :, :1], pixels, axis=2)
    return np.concatenate([edge, images[:, :, :-pixels]], axis=2)


def noise_floor(cam, images: np.ndarray, *, size: tuple[int, int] | None = None,
                class_index=None, clean: np.ndarray | None = None,
                batch_size: int = 32) -> dict[str, dict[str, np.ndarray]]:
    """Drift that means nothing: a heatmap against an identical re-run and against the same image
    moved by one pixel.

    Parameters
    ----------
    cam : a :class:`harness.explain.gradcam.GradCam` (anything with ``heatmaps(images, class_index=,
        batch_size=)``).
    images : (N, H, W, 3) uint8 images.
    size : (height, width) for :func:`drift`; default the images' own.
    class_index : passed to ``cam.heatmaps`` for every run (int, (N,) array, or None).
    clean : the clean heatmaps when already computed (saves one pass).

    Returns
    -------
    ``{"identity": drift(...), "shift_1px": drift(...)}``. The identity re-run must give exactly
    spearman 1, cosine 1 and centroid shift 0 (Grad-CAM is deterministic for a fixed batch
    size); the one-pixel shift is the smallest change a photograph can make, and drift of that
    order under a perturbation is noise, not a finding. The heatmap of the shifted image is not
    shifted back: one pixel is 1/32 of a cell of a 7 x 7 grid at 224 px.
    """
    images = np.asarray(images)
    if size is None:
        size = images.shape[1:3]
    if clean is None:
        clean = cam.heatmaps(images, class_index=class_index, batch_size=batch_size)
    rerun = cam.heatmaps(images, class_index=class_index, batch_size=batch_size)
    moved = cam.heatmaps(shift_images(images, pixels=1), class_index=class_index,
                         batch_size=batch_size)
    return {"identity": drift(clean, rerun, size=size), "shift_1px": drift(clean, moved, size=size)}


def _box_mask(box, height: int, width: int, name: str) -> np.ndarray:
    if len(box) != 4:
        raise ValueError(f"region {name!r}: a box is (x0, y0, x1, y1) fractions, got {box!r}")
    x0, y0, x1, y1 = (float(v) for v in box)
    if not (0 <= x0 < x1 <= 1 and 0 <= y0 < y1 <= 1):
        raise ValueError(f"region {name!r}: need 0 <= x0 < x1 <= 1 and 0 <= y0 < y1 <= 1, got {box!r}")
    ys = (np.arange(height) + 0.5) / height
    xs = (np.arange(width) + 0.5) / width
    return ((ys >= y0) & (ys < y1))[:, None] & ((xs >= x0) & (xs < x1))[None, :]


def attention_shares(heatmaps: np.ndarray, *, skin: np.ndarray, lesion: np.ndarray,
                     size: tuple[int, int],
                     region: Mapping[str, Sequence[float] | np.ndarray] | None = None,
                     ) -> dict[str, np.ndarray]:
    """Share of each heatmap's mass on the lesion, on healthy skin, and on everything else.

    Parameters
    ----------
    heatmaps : (N, h, w) non-negative heatmaps on the native grid.
    skin, lesion : (N, height, width) bool masks at the image size (``subgroups.skin_mask`` and
        ``subgroups.lesion_mask`` of the clean images). A pixel in both counts as lesion.
    size : (height, width) of the images and masks.
    region : optional named extra regions, each a box ``(x0, y0, x1, y1)`` in fractions of the
        width and height (e.g. ``{"watermark": DERMNET_WATERMARK}``) or an (N, height, width) /
        (height, width) bool mask.

    Returns
    -------
    dict of (N,) float64: ``lesion``, ``skin`` (healthy skin, not lesion), ``background``
    (neither) -- these three sum to 1 -- then one share per named region (overlapping the three).
    Each share has an ``<name>_area`` twin, the fraction of the image the region covers: a share
    well above its area means the model looks there more than at random (a model whose
    ``watermark`` share exceeds ``watermark_area`` is reading the watermark). Shares are NaN for
    an all-zero heatmap.
    """
    maps = _as_maps(heatmaps, "heatmaps")
    height, width = _check_size(size)
    n = len(maps)
    skin = np.asarray(skin, dtype=bool)
    lesion = np.asarray(lesion, dtype=bool)
    for name, m in (("skin", skin), ("lesion", lesion)):
        if m.shape != (n, height, width):
            raise ValueError(f"{name} must be (N, height, width) = {(n, height, width)}, got {m.shape}")
    regions: dict[str, np.ndarray] = {
        "lesion": lesion,
        "skin": skin & ~lesion,
        "background": ~(skin | lesion),
    }
    for name, spec in (region or {}).items():
        if clashes_with_builtin_share(name):
            raise ValueError(f"region name {name!r} clashes with a built-in share; rename it")
        arr = np.asarray(spec)
        if arr.dtype == bool:
            if arr.shape == (height, width):
                arr = np.broadcast_to(arr, (n, height, width))
            if arr.shape != (n, height, width):
                raise ValueError(f"region {name!r}: mask must be (height, width) or "
                                 f"(N, height, width), got {arr.shape}")
            regions[name] = arr
        else:
            regions[name] = np.broadcast_to(_box_mask(spec, height, width, name), (n, height, width))

    out = {name: np.full(n, np.nan) for name in regions}
    for start in range(0, n, _CHUNK):
        sl = slice(start, min(n, start + _CHUNK))
        up = upsample(maps[sl], size=(height, width), dtype=np.float32)
        mass = up.sum(axis=(1, 2), dtype=np.float64)
        ok = mass > 0
        for name, m in regions.items():
            inside = np.where(m[sl], up, 0).sum(axis=(1, 2), dtype=np.float64)
            out[name][sl] = np.where(ok, inside / np.where(ok, mass, 1.0), np.nan)
    for name, m in regions.items():
        out[f"{name}_area"] = m.reshape(n, -1).mean(axis=1).astype(np.float64)
    return out


# ---------------------------------------------------------------------------------------------
# Summaries for results.json


def _stream_seed(seed: int, *parts: str) -> np.random.SeedSequence:
    """An independent, stable stream per (seed, group, split, metric): a group's interval does not
    depend on which other groups exist."""
    return np.random.SeedSequence([int(seed), zlib.crc32("|".join(parts).encode("utf-8"))])


def _bootstrap_quartiles(values: np.ndarray, n_boot: int, rng: np.random.Generator) -> np.ndarray:
    """(n_boot, 3) quartiles (25, 50, 75) of bootstrap resamples, drawn in blocks to bound memory."""
    n = len(values)
    block = max(1, min(n_boot, 2_000_000 // max(n, 1)))
    out = np.empty((n_boot, 3))
    for start in range(0, n_boot, block):
        b = min(block, n_boot - start)
        idx = rng.integers(0, n, size=(b, n))
        out[start: start + b] = np.percentile(values[idx], [25, 50, 75], axis=1).T
    return out


def _plain(x: float) -> float | None:
    x = float(x)
    return x if math.isfinite(x) else None


def _describe(values: np.ndarray, *, n_boot: int, min_n: int, rng_seed: np.random.SeedSequence,
              ci: float) -> dict:
    """Median, quartiles and IQR of the defined values, with percentile-bootstrap intervals."""
    defined = values[np.isfinite(values)]
    n = int(defined.size)
    entry: dict = {"n": n, "n_undefined": int(values.size - n), "median": None, "q25": None,
                   "q75": None, "iqr": None, "median_ci": None, "iqr_ci": None, "reason": None}
    if n == 0:
        entry["reason"] = "no images" if values.size == 0 else "heatmaps all zero"
        return entry
    q25, q50, q75 = np.percentile(defined, [25, 50, 75])
    entry.update(median=_plain(q50), q25=_plain(q25), q75=_plain(q75), iqr=_plain(q75 - q25))
    if n < min_n or n_boot <= 0:
        entry["reason"] = f"fewer than {min_n} images: no interval" if n < min_n else "n_boot = 0"
        return entry
    boot = _bootstrap_quartiles(defined, n_boot, np.random.default_rng(rng_seed))
    lo, hi = (1 - ci) / 2 * 100, (1 + ci) / 2 * 100
    med_lo, med_hi = np.percentile(boot[:, 1], [lo, hi])
    iqr_lo, iqr_hi = np.percentile(boot[:, 2] - boot[:, 0], [lo, hi])
    entry["median_ci"] = [_plain(med_lo), _plain(med_hi)]
    entry["iqr_ci"] = [_plain(iqr_lo), _plain(iqr_hi)]
    return entry


def summarise_drift(per_image: Mapping[str, np.ndarray], *, flipped: np.ndarray, groups: np.ndarray,
                    n_boot: int = 1000, seed: int = 0, min_n: int = 10, ci: float = 0.95) -> dict:
    """Median and IQR of each drift metric, with bootstrap intervals, per group and overall,
    separately for images whose prediction held and images whose prediction flipped.

    Parameters
    ----------
    per_image : metric name -> (N,) values, as :func:`drift` returns (NaN = undefined).
    flipped : (N,) bool, True where the perturbed prediction differs from the clean one.
    groups : (N,) group labels (str-able), e.g. the skin-tone group of each image.
    n_boot : bootstrap resamples per interval (percentile method).
    seed : base seed; each (group, split, metric) gets its own stable stream.
    min_n : fewer defined values than this get point estimates but no interval.
    ci : interval coverage.

    Returns
    -------
    JSON-ready dict::

        {"metrics": {name: "similarity" | "distance"}, "n_boot", "ci", "min_n", "seed",
         "overall":  {"all": S, "held": S, "flipped": S},
         "by_group": {group: {"all": S, "held": S, "flipped": S}}}

    where ``S = {"n": images in the split, metric: {n, n_undefined, median, q25, q75, iqr,
    median_ci: [lo, hi] | None, iqr_ci: [lo, hi] | None, reason: str | None}}``. ``held`` measures
    consistency (an explanation should not wander when the answer stays), ``flipped``
    responsiveness (it should move when the answer changes). Groups are listed in sorted order.
    """
    flipped = np.asarray(flipped, dtype=bool)
    groups = np.asarray(groups).astype(str)
    n = len(flipped)
    if groups.shape != (n,):
        raise ValueError(f"groups must be (N,) = ({n},), got shape {groups.shape}")
    values = {}
    for name, v in per_image.items():
        v = np.asarray(v, dtype=np.float64)
        if v.shape != (n,):
            raise ValueError(f"per_image[{name!r}] must be (N,) = ({n},), got shape {v.shape}")
        values[name] = v
    kinds = {name: DRIFT_METRICS.get(name, "similarity") for name in values}

    def split_summary(mask: np.ndarray, group: str) -> dict:
        out = {}
        for split, sel in (("all", mask), ("held", mask & ~flipped), ("flipped", mask & flipped)):
            entry: dict = {"n": int(sel.sum())}
            for name, v in values.items():
                entry[name] = _describe(v[sel], n_boot=n_boot, min_n=min_n, ci=ci,
                                        rng_seed=_stream_seed(seed, group, split, name))
            out[split] = entry
        return out

    everyone = np.ones(n, dtype=bool)
    return {
        "metrics": kinds,
        "n_boot": int(n_boot),
        "ci": float(ci),
        "min_n": int(min_n),
        "seed": int(seed),
        "overall": split_summary(everyone, "\x00overall"),
        "by_group": {g: split_summary(groups == g, g) for g in sorted(set(groups.tolist()))},
    }
