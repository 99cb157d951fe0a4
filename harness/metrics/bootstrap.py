"""Stratified bootstrap resamples, percentile intervals and Wilson intervals.

One resample matrix is drawn per grouping and reused for every metric, variant and cell, so that a
gap between two groups, a drop between clean and a variant, or a paired difference between two
models is computed on the same images in every replicate.

Resampling is stratified by group × label: each replicate draws, with replacement, as many images
from every (group, label) stratum as the stratum holds. Group sizes and class counts are therefore
fixed across replicates (sensitivity and specificity are always defined in a cell that has both
classes), and the interval reflects sampling within groups, not the luck of the group mix.

The audit never holds that (B, N) matrix: ``resample_blocks`` saves the generator's state at the
start of every block of ``ROW_BLOCK`` rows of every stratum in one pass, and ``WeightBlocks``
draws a block again when it is used (the same numbers as ``bootstrap_counts``, bitwise).
``bootstrap_indices`` and ``bootstrap_counts`` give the whole matrix, for ``compare``.
"""
from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from statistics import NormalDist

import numpy as np

#: Rows of the (B+1, N) weight matrix made and used at once (row 0, the point estimate, counted).
#: Blocks start at multiples of this, so every row keeps its position modulo the BLAS kernel's
#: row tile (4 rows) and each metric of a row comes out bitwise as it does from the whole matrix.
ROW_BLOCK = 64


def _strata(groups: np.ndarray, y_true: np.ndarray) -> list[np.ndarray]:
    """Member indices of each (group, label) stratum, strata in sorted order. Labels are 0/1, or
    class indices 0..K-1 of a K-class audit (one stratum per group and class)."""
    groups = np.asarray(groups).astype(str)
    y = np.asarray(y_true).astype(np.int64)
    if groups.shape != y.shape or y.ndim != 1:
        raise ValueError(f"groups and y_true must be 1-D of one length "
                         f"(got {groups.shape} and {y.shape})")
    names, gcode = np.unique(groups, return_inverse=True)
    if y.size and (y.min() < 0 or y.max() > 1):   # class indices: group x class
        if y.min() < 0:
            raise ValueError(f"y_true must hold 0/1 or class indices >= 0 (got {int(y.min())})")
        key = gcode.astype(np.int64) * (int(y.max()) + 1) + y
    else:
        key = gcode.astype(np.int64) * 2 + (y != 0)
    order = np.argsort(key, kind="stable")
    bounds = np.flatnonzero(np.diff(key[order])) + 1
    return np.split(order, bounds) if y.size else []


def bootstrap_indices(groups: np.ndarray, y_true: np.ndarray, *, n_boot: int = 1000,
                      seed: int = 0) -> np.ndarray:
    """The resample index matrix, stratified by group × label.

    Parameters
    ----------
    groups : (N,) group label of each image (str-like).
    y_true : (N,) 0/1 labels, or K-class indices 0..K-1.
    n_boot : number of replicates B.
    seed : seed of ``np.random.default_rng``; same inputs and seed -> the same matrix.

    Returns
    -------
    (B, N) int64: row b lists the images drawn in replicate b. Slot j is always filled from the
    stratum of image j, so ``x[idx]`` resamples any per-image array ``x`` and two models scored on
    the same images can be compared pairwise with the same ``idx``.
    """
    if n_boot < 1:
        raise ValueError(f"n_boot must be >= 1 (got {n_boot!r})")
    y = np.asarray(y_true)
    rng = np.random.default_rng(seed)
    idx = np.empty((n_boot, y.size), dtype=np.int64)
    for members in _strata(groups, y):
        draw = rng.integers(0, members.size, size=(n_boot, members.size))
        idx[:, members] = members[draw]
    return idx


def counts_from_indices(idx: np.ndarray, n: int) -> np.ndarray:
    """(B, N) index matrix -> (B, n) float64 counts: times each image was drawn."""
    idx = np.asarray(idx, dtype=np.int64)
    b = idx.shape[0]
    flat = (idx + (np.arange(b, dtype=np.int64) * n)[:, None]).ravel()
    return np.bincount(flat, minlength=b * n).reshape(b, n).astype(np.float64)


def bootstrap_counts(groups: np.ndarray, y_true: np.ndarray, *, n_boot: int = 1000,
                     seed: int = 0) -> np.ndarray:
    """(B, N) float64 draw counts of the stratified resamples (``bootstrap_indices`` as weights)."""
    idx = bootstrap_indices(groups, y_true, n_boot=n_boot, seed=seed)
    return counts_from_indices(idx, idx.shape[1])


def row_blocks(n_rows: int) -> list[tuple[int, int]]:
    """``[start, stop)`` ranges of at most ``ROW_BLOCK`` rows covering ``n_rows`` rows.

    Blocks start at multiples of ``ROW_BLOCK``; a one-row tail joins the block before it (a
    one-row product would take numpy's matrix-vector path instead of the matrix one).
    """
    bounds = list(range(0, n_rows, ROW_BLOCK)) + [n_rows]
    if len(bounds) > 2 and bounds[-1] - bounds[-2] == 1:
        del bounds[-2]
    return list(zip(bounds[:-1], bounds[1:]))


@dataclass(frozen=True, eq=False)
class WeightBlocks:
    """The (B+1, N) weight matrix of one grouping, made ``ROW_BLOCK`` rows at a time.

    Row 0 is all ones (the point estimate); row ``b + 1`` holds the draw counts of replicate ``b``
    of ``bootstrap_counts`` with the same inputs, bitwise. Per stratum the generator's state at the
    start of each block was saved in one pass (``resample_blocks``), so a block is drawn again on
    demand and the whole matrix is never held. Build it with ``resample_blocks``.
    """

    n: int                                      # images N
    n_boot: int                                 # replicates B
    strata: tuple[np.ndarray, ...]              # member indices of each stratum, sorted order
    blocks: tuple[tuple[int, int], ...]         # row ranges (``row_blocks(B + 1)``)
    states: tuple[tuple[dict, ...], ...]        # [stratum][block]: generator state before its draw

    @property
    def shape(self) -> tuple[int, int]:
        """(B+1, N), the shape of the whole matrix."""
        return self.n_boot + 1, self.n

    def block(self, k: int) -> np.ndarray:
        """Rows ``blocks[k]`` of the weight matrix, (rows, N) float64."""
        start, stop = self.blocks[k]
        first = max(start, 1)                    # row 0 is the point estimate
        out = np.empty((stop - start, self.n))
        out[:first - start] = 1.0
        reps = stop - first
        rng = np.random.Generator(np.random.PCG64())
        for members, states in zip(self.strata, self.states):
            m = members.size
            rng.bit_generator.state = states[k]
            draw = rng.integers(0, m, size=(reps, m))
            draw += (np.arange(reps, dtype=np.int64) * m)[:, None]
            out[first - start:, members] = np.bincount(draw.ravel(),
                                                       minlength=reps * m).reshape(reps, m)
        return out

    def __iter__(self) -> Iterator[tuple[int, int, np.ndarray]]:
        for k, (start, stop) in enumerate(self.blocks):
            yield start, stop, self.block(k)


def resample_blocks(groups: np.ndarray, y_true: np.ndarray, *, n_boot: int = 1000,
                    seed: int = 0) -> WeightBlocks:
    """The weight matrix ``[ones; bootstrap_counts(groups, y_true, ...)]`` as ``WeightBlocks``.

    Parameters
    ----------
    groups, y_true, n_boot, seed : as for ``bootstrap_indices`` (the same random stream: one
        ``default_rng(seed)``, per stratum in sorted order a (B, m) draw, here in row blocks).

    Returns
    -------
    WeightBlocks: memory about ``ROW_BLOCK`` x N x 8 bytes per block made, whatever B.
    """
    if n_boot < 1:
        raise ValueError(f"n_boot must be >= 1 (got {n_boot!r})")
    y = np.asarray(y_true)
    strata = tuple(_strata(groups, y))
    blocks = tuple(row_blocks(n_boot + 1))
    rng = np.random.default_rng(seed)
    states = []
    for members in strata:
        per_block = []
        for start, stop in blocks:
            per_block.append(rng.bit_generator.state)
            rng.integers(0, members.size, size=(stop - max(start, 1), members.size))
        states.append(tuple(per_block))
    return WeightBlocks(n=int(y.size), n_boot=int(n_boot), strata=strata, blocks=blocks,
                        states=tuple(states))


def weight_blocks(weights) -> Iterator[tuple[int, int, np.ndarray]]:
    """``(start, stop, rows)`` over a weight matrix: a ``WeightBlocks``, or a (B+1, N) array (then
    its rows in ``row_blocks``, as views)."""
    if isinstance(weights, WeightBlocks):
        yield from weights
        return
    w = np.asarray(weights, dtype=np.float64)
    for start, stop in row_blocks(w.shape[0]):
        yield start, stop, w[start:stop]


def percentile_interval(replicates: np.ndarray, *, level: float = 0.95, axis: int = 0
                        ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Percentile interval of ``replicates`` over ``axis`` (the replicate axis), ignoring NaN.

    Returns
    -------
    lo, hi : arrays of the remaining shape (NaN where every replicate is NaN).
    n_undefined : int array of the remaining shape, how many replicates were NaN.
    """
    r = np.moveaxis(np.asarray(replicates, dtype=np.float64), axis, -1)
    tail = r.shape[:-1]
    flat = np.ascontiguousarray(r.reshape(-1, r.shape[-1]))   # rows: statistics; cols: replicates
    q = [100 * (1 - level) / 2, 100 * (1 + level) / 2]
    bad = np.isnan(flat).sum(axis=1)
    lo = np.full(flat.shape[0], np.nan)
    hi = np.full(flat.shape[0], np.nan)
    full = bad == 0
    if full.all():
        lo, hi = np.percentile(flat, q, axis=1)
    else:
        if full.any():
            lo[full], hi[full] = np.percentile(flat[full], q, axis=1)
        partial = (bad > 0) & (bad < flat.shape[1])
        if partial.any():
            lo[partial], hi[partial] = np.nanpercentile(flat[partial], q, axis=1)
    return lo.reshape(tail), hi.reshape(tail), bad.reshape(tail)


_Z: dict[float, float] = {}


def _z(level: float) -> float:
    if level not in _Z:
        _Z[level] = NormalDist().inv_cdf((1 + level) / 2)
    return _Z[level]


def wilson_bounds(k: float, n: float, *, level: float = 0.95) -> tuple[float, float] | None:
    """Scalar Wilson score interval for k successes in n trials; None when n == 0."""
    if n <= 0:
        return None
    z = _z(level)
    phat = k / n
    den = 1 + z * z / n
    centre = (phat + z * z / (2 * n)) / den
    half = z * math.sqrt(max(phat * (1 - phat) / n + z * z / (4 * n * n), 0.0)) / den
    lo = 0.0 if k <= 0 else min(max(centre - half, 0.0), 1.0)
    hi = 1.0 if k >= n else min(max(centre + half, 0.0), 1.0)
    return lo, hi


def wilson_interval(k, n, *, level: float = 0.95) -> tuple[np.ndarray, np.ndarray]:
    """Wilson score interval for k successes in n trials (NaN where n == 0)."""
    k = np.asarray(k, dtype=np.float64)
    n = np.asarray(n, dtype=np.float64)
    z = _z(level)
    safe = np.where(n > 0, n, 1.0)
    phat = k / safe
    den = 1 + z * z / safe
    centre = (phat + z * z / (2 * safe)) / den
    half = z * np.sqrt(np.maximum(phat * (1 - phat) / safe + z * z / (4 * safe * safe), 0)) / den
    lo = np.where(k <= 0, 0.0, np.clip(centre - half, 0.0, 1.0))
    hi = np.where(k >= n, 1.0, np.clip(centre + half, 0.0, 1.0))
    return np.where(n > 0, lo, np.nan), np.where(n > 0, hi, np.nan)
