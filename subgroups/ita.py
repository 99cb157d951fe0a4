"""Skin tone of each image: ITA over the healthy skin, its spread, a group, a Fitzpatrick estimate.

For one image (``measure_image``):

1. ``subgroups.mask.analyse_image`` finds the healthy skin.
2. ITA: the medians of L* and b* over the skin are taken first, then
   ``ITA = atan2(median L* - 50, median b*)`` (per-pixel ITA is meaningless where b* is near 0),
   from the image's CIELAB as ``subgroups.lab`` converts it (the conversion the perturbations'
   ΔITA is measured with), not from the mask's 8-bit bins.
3. ``ita_iqr``: the skin is cut into blocks (about 16 px at 224 px); each block with enough skin
   gets an ITA from its own mean L* and b*; ``ita_iqr`` is the interquartile range of those block
   ITAs, weighted by skin pixels (uneven light, mixed skin, a mask that caught something else).
4. ``unknown``: the Fitzpatrick estimate is unknown when the skin covers less than
   ``min_skin_fraction`` of the image; the ITA group is unknown then too, and also when the ITA
   is unstable: spread wider than ``max_ita_iqr`` across the skin, or median b* <= 0 (ITA is
   undefined for colourless skin). Pale skin photographed dim (L* near 50, b* small) is the usual
   case: ITA swings with every shade there, while the estimator, which also reads exposure-
   normalised colour, still has something to go on. Thresholds are in the skin-tone settings
   (``configs/skin_tone.yaml`` unless an audit config names another file).
5. ``fitzpatrick_est``: a cumulative-logit model over colour statistics of the skin, the
   skin-coloured candidates and the whole image, raw and exposure-normalised
   (``subgroups.features``), fitted on Fitzpatrick17k (``subgroups.calibrate``). ITA stays the
   reported measure of skin tone; the estimate is what is compared with Fitzpatrick labels.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np
import pandas as pd

from subgroups.features import feature_vector
from subgroups.lab import ita_degrees
from subgroups.mask import MaskResult, analyse_image, count
from subgroups.schemes import FITZPATRICK_TYPES, UNKNOWN, get_scheme
from subgroups.settings import SkinToneConfig

__all__ = ["BLOCK", "TONE_COLUMNS", "ImageTone", "enough_skin", "estimate_skin_tone", "is_known", "measure_image", "tone_of_mask"]

#: Block side for ``ita_iqr``, as a fraction of the shorter image side (16 px at 224 px).
BLOCK = 1.0 / 14.0
#: A block counts when at least this share of its pixels is skin.
BLOCK_MIN_SKIN = 0.25

_CHUNK = 16

TONE_COLUMNS = ["ita", "ita_iqr", "skin_fraction", "L", "b", "group", "fitzpatrick_est"]


@dataclass(frozen=True)
class ImageTone:
    """The skin-tone measurements of one image (NaN where nothing could be measured)."""

    ita: float
    ita_iqr: float
    skin_fraction: float
    L: float
    b: float
    fitzpatrick_est: int | None
    known: bool        # the ITA group is known
    known_type: bool   # the Fitzpatrick estimate is known


def _weighted_iqr(values: np.ndarray, weights: np.ndarray) -> float:
    order = np.argsort(values)
    v, w = values[order], weights[order]
    cw = np.cumsum(w) - 0.5 * w
    cw /= w.sum()
    q25, q75 = np.interp([0.25, 0.75], cw, v)
    return float(q75 - q25)


def _block_ita_iqr(res: MaskResult, L: np.ndarray, b: np.ndarray) -> float:
    """Weighted IQR of block ITAs (NaN when fewer than 2 blocks hold enough skin); ``L`` and
    ``b`` are the image's L* and b* planes."""
    H, W = res.skin.shape
    k = max(2, round(BLOCK * min(H, W)))
    nby, nbx = H // k, W // k
    if nby < 1 or nbx < 1:
        return float("nan")
    m = res.skin.view(np.uint8)
    # block sums through integral images of the masked planes
    ys, xs = np.arange(nby + 1) * k, np.arange(nbx + 1) * k

    def sums(img: np.ndarray) -> np.ndarray:
        ii = cv2.integral(img, sdepth=cv2.CV_64F)[np.ix_(ys, xs)]  # float64 sums
        return ii[1:, 1:] - ii[:-1, 1:] - ii[1:, :-1] + ii[:-1, :-1]

    n = sums(m)
    ok = n >= BLOCK_MIN_SKIN * k * k
    if int(ok.sum()) < 2:
        return float("nan")
    zero = np.zeros_like(L)
    sL = sums(cv2.copyTo(L, m, zero.copy()))
    sb = sums(cv2.copyTo(b, m, zero))
    return _weighted_iqr(np.asarray(ita_degrees(sL[ok] / n[ok], sb[ok] / n[ok]), np.float64), n[ok])


def tone_of_mask(res: MaskResult) -> tuple[float, float, float, float, float]:
    """(ita, ita_iqr, skin_fraction, L, b) of an analysed image (NaN where there is no skin)."""
    skin = res.skin
    n_skin = count(skin)
    skin_fraction = float(n_skin / skin.size) if skin.size else 0.0
    if not n_skin:
        nan = float("nan")
        return nan, nan, skin_fraction, nan, nan
    L_plane, _, b_plane = cv2.split(res.lab)
    L = float(np.median(L_plane[skin]))
    b = float(np.median(b_plane[skin]))
    return float(ita_degrees(L, b)), _block_ita_iqr(res, L_plane, b_plane), skin_fraction, L, b


def enough_skin(skin_fraction: float, cfg: SkinToneConfig) -> bool:
    """Enough healthy skin to estimate a Fitzpatrick type."""
    return bool(skin_fraction > 0 and skin_fraction >= cfg.min_skin_fraction)


def is_known(ita: float, ita_iqr: float, skin_fraction: float, b: float, cfg: SkinToneConfig) -> bool:
    """The ``unknown`` rule of the ITA group: enough skin, b* > 0, ITA not spread too wide."""
    return bool(enough_skin(skin_fraction, cfg) and np.isfinite(ita) and b > 0
                and not (np.isfinite(ita_iqr) and ita_iqr > cfg.max_ita_iqr))


def measure_image(image: np.ndarray, *, settings: SkinToneConfig,
                  found: MaskResult | None = None) -> ImageTone:
    """Skin-tone measurements of one uint8 RGB image (H, W, 3) under ``settings``; ``found`` is
    its ``analyse_image(image, settings.mask)`` when the caller already has it."""
    cfg = settings
    res = analyse_image(image, cfg.mask) if found is None else found
    ita, iqr, skin_fraction, L, b = tone_of_mask(res)
    known = is_known(ita, iqr, skin_fraction, b, cfg)
    known_type = enough_skin(skin_fraction, cfg)
    fitz = None
    if known_type and cfg.model is not None:
        x = feature_vector(image, res, cfg.model.features)[None, :]
        if np.all(np.isfinite(x)):
            fitz = int(cfg.model.decide(x)[0])
    return ImageTone(ita=ita, ita_iqr=iqr, skin_fraction=skin_fraction, L=L, b=b,
                     fitzpatrick_est=fitz, known=known, known_type=fitz is not None)


def estimate_skin_tone(images: np.ndarray, *, settings: SkinToneConfig, scheme: str = "chardon6",
                       progress: bool = False, workers: int = 1,
                       found: Sequence[MaskResult] | None = None) -> pd.DataFrame:
    """Skin tone of every image.

    Parameters
    ----------
    images : (N, H, W, 3) uint8 RGB (e.g. ``Dataset.images``), or a sequence of such images.
    settings : the skin-tone settings: ``subgroups.load_config()`` for the packaged ones, or an
        audit config's ``skin_tone``.
    scheme : grouping of ITA: ``chardon6``, ``coarse3``, ``kinyanjui8`` or ``fitzpatrick`` (the
        group is then the Fitzpatrick estimate, "I".."VI").
    progress : show a tqdm progress bar.
    workers : threads; the result does not depend on it. Most of the work holds Python's GIL,
        so more than one thread helps little; the default is 1.
    found : each image's ``analyse_image(image, settings.mask)`` when already computed (an audit
        shares them with the perturbation ladder), else computed here.

    Returns
    -------
    DataFrame, one row per image in input order: ``ita`` (degrees), ``ita_iqr`` (degrees),
    ``skin_fraction`` (0-1), ``L`` and ``b`` (median L*, b* of the skin), ``group`` (a name from
    ``group_order(scheme)``, ``unknown`` when the evidence is too thin) and ``fitzpatrick_est``
    (Int64 1-6, <NA> when unknown). ``ita`` is NaN only when no skin was found at all.
    """
    sch = get_scheme(scheme, settings=settings)
    cfg = settings
    n = len(images)
    if workers < 1:
        raise ValueError(f"workers must be >= 1, got {workers!r}")
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=n, desc="skin tone", unit="img")

    def one(i: int) -> ImageTone:
        tone = measure_image(np.asarray(images[i]), settings=cfg,
                             found=None if found is None else found[i])
        if bar is not None:
            bar.update(1)
        return tone

    if workers == 1 or n < 2 * _CHUNK:
        rows = [one(i) for i in range(n)]
    else:
        # OpenCV and most numpy kernels release the GIL; results keep the input order.
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(max_workers=workers) as pool:
            rows = list(pool.map(one, range(n), chunksize=_CHUNK))
    if bar is not None:
        bar.close()
    ita = np.array([r.ita for r in rows], dtype=np.float64)
    known = np.array([r.known for r in rows], dtype=bool)
    fitz = pd.array([r.fitzpatrick_est for r in rows], dtype="Int64")
    if scheme == "fitzpatrick":
        names = np.asarray(FITZPATRICK_TYPES, dtype=object)
        group = np.array([names[int(v) - 1] if v is not pd.NA else UNKNOWN for v in fitz], dtype=object)
    else:
        group = sch.labels(np.where(known, ita, np.nan))
    return pd.DataFrame({
        "ita": ita,
        "ita_iqr": np.array([r.ita_iqr for r in rows], dtype=np.float64),
        "skin_fraction": np.array([r.skin_fraction for r in rows], dtype=np.float64),
        "L": np.array([r.L for r in rows], dtype=np.float64),
        "b": np.array([r.b for r in rows], dtype=np.float64),
        "group": pd.Series(group, dtype=object),
        "fitzpatrick_est": fitz,
    })
