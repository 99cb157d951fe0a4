"""Every metric of every cell and variant, for every bootstrap replicate, in a few matrix products.

For one grouping: ``W`` is the (B+1, N) weight matrix whose row 0 is all ones (the point
estimate) and rows 1..B are the stratified resample counts. It is read in blocks of
``bootstrap.ROW_BLOCK`` rows (made on demand by ``bootstrap.WeightBlocks``). For each block and
each cell (overall, then each group), the per-image columns of every variant
(``rates.sufficient_columns`` plus the flip columns), side by side, are multiplied by the cell's
slice of the block, ``COL_BLOCK`` columns at a time (``variant_sums``); AUC is computed from
cumulative weights (``rates.weighted_auc``). Every statistic of a replicate depends on its own row
only, and the blocks keep every row and column where the BLAS kernel's tiles put it in the whole
product, so the numbers are those of the whole matrix, bitwise, in memory that does not grow with
B or the number of variants. Nothing is resampled by copying data.

The products run on one BLAS thread (``one_blas_thread``): a multi-threaded BLAS splits a product
by its shape and the thread count and then sums some dot products in another order, so the last
bits of a replicate would depend on the core count and on the block.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from threadpoolctl import threadpool_limits

from .bootstrap import weight_blocks
from .rates import ECE_BINS, METRICS, metrics_from_stats, sufficient_columns, weighted_auc

#: Columns of a cell's per-image matrix multiplied at once (a multiple of any BLAS column tile).
COL_BLOCK = 64

#: Per-image robustness statistics of a variant against clean (shares of the cell's images).
FLIP_STATS: tuple[str, ...] = ("flip_rate", "right_to_wrong", "wrong_to_right", "mean_abs_delta_p")


def flip_columns(y: np.ndarray, p_clean: np.ndarray, p_variant: np.ndarray, *,
                 threshold: float) -> np.ndarray:
    """(n, 4) per-image columns: flipped, right->wrong, wrong->right, |p_variant - p_clean|."""
    y = np.asarray(y).astype(bool)
    pc = np.asarray(p_clean, dtype=np.float64)
    pv = np.asarray(p_variant, dtype=np.float64)
    pred_c = pc >= threshold
    pred_v = pv >= threshold
    right_c = pred_c == y
    right_v = pred_v == y
    return np.stack([pred_c != pred_v, right_c & ~right_v, ~right_c & right_v, np.abs(pv - pc)],
                    axis=1).astype(np.float64)


@dataclass
class Replicates:
    """Metric replicates of one grouping (row 0 of the last axis is the point estimate)."""

    cells: list[str]             # "overall", then the groups
    members: list[np.ndarray]    # image indices of each cell
    variants: list[str]          # "clean" first
    values: np.ndarray           # (V, C, len(METRICS), B+1)
    flips: np.ndarray            # (V, C, len(FLIP_STATS), B+1); variant 0 (clean) is all zero
    counts: np.ndarray           # (V, C, 4) point tp, fp, fn, tn
    flip_counts: np.ndarray      # (V, C, 3) point flips, right->wrong, wrong->right
    metric_names: tuple[str, ...] = METRICS   # the third axis of ``values``


def compute_replicates(*, y: np.ndarray, P: np.ndarray, variants: list[str], cells: list[str],
                       members: list[np.ndarray], weights, threshold: float,
                       ece_bins: int = ECE_BINS) -> Replicates:
    """Fill a ``Replicates`` for one grouping.

    Parameters
    ----------
    y : (N,) bool labels. P : (V, N) probabilities, row 0 = clean.
    weights : the (B+1, N) weight matrix, row 0 all ones: a ``bootstrap.WeightBlocks`` (made
        block by block) or an array. Either way it is read ``ROW_BLOCK`` rows at a time and the
        per-image columns are made ``COL_BLOCK`` at a time, so the memory in use is about
        ``ROW_BLOCK`` x N x 8 bytes times a few, whatever B and the number of variants.
    """
    V = P.shape[0]
    C = len(cells)
    R = weights.shape[0]
    n_suff = 5 + ece_bins
    n_flip = len(FLIP_STATS)
    values = np.empty((V, C, len(METRICS), R))
    flips = np.zeros((V, C, n_flip, R))
    counts = np.zeros((V, C, 4))
    flip_counts = np.zeros((V, C, 3))
    width = n_suff + n_flip
    for start, rows, c, idx, wc in cell_blocks(weights, members, y.size):
        yc = y[idx]

        def columns(v, yc=yc, idx=idx):
            cols = np.zeros((idx.size, width))
            cols[:, :n_suff] = sufficient_columns(yc, P[v, idx], threshold=threshold,
                                                  ece_bins=ece_bins)
            if v:
                cols[:, n_suff:] = flip_columns(yc, P[0, idx], P[v, idx], threshold=threshold)
            return cols

        sums = variant_sums(wc, columns, n_variants=V, width=width)
        n_w = sums[:, 0, 2] + sums[:, 0, 3]
        with np.errstate(invalid="ignore", divide="ignore"):
            for v in range(V):
                m = metrics_from_stats(sums[:, v, :n_suff], ece_bins=ece_bins)
                m["roc_auc"] = weighted_auc(yc, P[v, idx], wc)
                values[v, c, :, rows] = np.stack([m[name] for name in METRICS])
                if v:
                    flips[v, c, :, rows] = (sums[:, v, n_suff:] / n_w[:, None]).T
                if start == 0:
                    counts[v, c] = [m["tp"][0], m["fp"][0], m["fn"][0], m["tn"][0]]
                    if v:
                        flip_counts[v, c] = sums[0, v, n_suff:n_suff + 3]
    return Replicates(cells=cells, members=members, variants=variants, values=values,
                      flips=flips, counts=counts, flip_counts=flip_counts)


def cell_blocks(weights, members: list[np.ndarray], n: int):
    """``(start, rows, c, idx, wc)`` for every block of replicate rows (``weight_blocks``) and
    every cell ``c`` with image indices ``idx``: ``wc`` is the cell's slice of the block's
    weights (no copy for a cell of every image). The products run on one BLAS thread meanwhile
    (see the module docstring)."""
    whole = [_every_image(idx, n) for idx in members]
    with one_blas_thread():
        for start, stop, w in weight_blocks(weights):
            for c, idx in enumerate(members):
                yield start, slice(start, stop), c, idx, (w if whole[c] else w[:, idx])


def variant_sums(w: np.ndarray, columns, *, n_variants: int, width: int) -> np.ndarray:
    """``w @ [columns(0) | columns(1) | ...]``, (rows, n_variants, width), made ``COL_BLOCK``
    columns of that side-by-side layout at a time.

    Parameters
    ----------
    w : (rows, n) weights of one cell.
    columns : variant index -> its (n, width) per-image columns.

    Chunks start at multiples of ``COL_BLOCK`` in the layout of every variant side by side, so
    each column keeps its place in the BLAS kernel's column tile (and the last columns their tail
    tile): the sums are those of the whole product, bitwise, without holding all its columns.
    """
    total = n_variants * width
    out = np.empty((w.shape[0], total))
    held = (-1, None)                        # the variant that straddles two chunks
    for j0 in range(0, total, COL_BLOCK):
        j1 = min(j0 + COL_BLOCK, total)
        chunk = np.empty((w.shape[1], j1 - j0))
        for v in range(j0 // width, (j1 - 1) // width + 1):
            cols = held[1] if held[0] == v else columns(v)
            held = (v, cols)
            a, b = max(j0, v * width), min(j1, (v + 1) * width)
            chunk[:, a - j0:b - j0] = cols[:, a - v * width:b - v * width]
        out[:, j0:j1] = w @ chunk
    return out.reshape(w.shape[0], n_variants, width)


def _every_image(idx: np.ndarray, n: int) -> bool:
    """Whether the cell ``idx`` is every image in order (``arange(n)``)."""
    return idx.size == n and np.array_equal(idx, np.arange(n))


def one_blas_thread():
    """Context: BLAS on one thread, so that a product's dot products are summed in the same order
    whatever the core count and however many rows the product has."""
    return threadpool_limits(limits=1, user_api="blas")
