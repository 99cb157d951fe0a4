"""The bootstrap weights made and used in row blocks give the numbers of the whole (B+1, N) matrix:
the resample counts bitwise; every replicate of the binary and K-class metrics, and the metrics
section of an audit, to within rounding (1e-12). The references below are the whole-matrix
computations the audit used before (``bootstrap_counts`` stacked under a row of ones, one product
per cell of every variant at once), with BLAS on one thread as the metrics now run it.

Why not bitwise: how a BLAS kernel tiles the rows of a product, and so the order in which it sums
a dot product, may depend on the number of rows on some CPUs (OpenBLAS picks its kernel for the
CPU it runs on), so a block of ``ROW_BLOCK`` rows and the whole matrix can differ in the last bit.
What must be bitwise, the same results whatever the chunk size, workers or engine, holds because
the row blocks are fixed (multiples of ``ROW_BLOCK``, whatever the images' chunking): that is
tested end to end in test_stream_chunks.py and test_engine_ray.py.
"""
from __future__ import annotations

import json
import tracemalloc

import numpy as np
import pytest
from threadpoolctl import threadpool_limits

from harness.metrics import audit as audit_module
from harness.metrics import kclass_audit as kclass_module
from harness.metrics.audit import audit_metrics
from harness.metrics.bootstrap import ROW_BLOCK, bootstrap_counts, resample_blocks, row_blocks
from harness.metrics.kclass_audit import kclass_audit_metrics, kclass_replicates
from harness.metrics.multiclass import (class_aucs, kclass_columns, kclass_flip_columns,
                                        kclass_from_sums, macro_mean)
from harness.metrics.rates import METRICS, metrics_from_stats, sufficient_columns, weighted_auc
from harness.metrics.replicates import FLIP_STATS, Replicates, compute_replicates, flip_columns


def _full_weights(groups, y, *, n_boot, seed):
    return np.vstack([np.ones((1, y.size)), bootstrap_counts(groups, y, n_boot=n_boot, seed=seed)])


def _full_replicates(*, y, P, variants, cells, members, weights, threshold, ece_bins=10):
    """The whole-matrix binary replicates (every variant's columns side by side, one product)."""
    V, C, R = P.shape[0], len(cells), weights.shape[0]
    n_suff, n_flip = 5 + ece_bins, len(FLIP_STATS)
    width = n_suff + n_flip
    values = np.empty((V, C, len(METRICS), R))
    flips = np.zeros((V, C, n_flip, R))
    counts, flip_counts = np.zeros((V, C, 4)), np.zeros((V, C, 3))
    for c, idx in enumerate(members):
        yc, wc = y[idx], weights[:, idx]
        cols = np.zeros((idx.size, V * width))
        for v in range(V):
            cols[:, v * width:v * width + n_suff] = sufficient_columns(
                yc, P[v, idx], threshold=threshold, ece_bins=ece_bins)
            if v:
                cols[:, v * width + n_suff:(v + 1) * width] = flip_columns(
                    yc, P[0, idx], P[v, idx], threshold=threshold)
        with threadpool_limits(limits=1, user_api="blas"):
            sums = (wc @ cols).reshape(R, V, width)
        n_w = sums[:, 0, 2] + sums[:, 0, 3]
        with np.errstate(invalid="ignore", divide="ignore"):
            for v in range(V):
                m = metrics_from_stats(sums[:, v, :n_suff], ece_bins=ece_bins)
                m["roc_auc"] = weighted_auc(yc, P[v, idx], wc)
                values[v, c] = np.stack([m[name] for name in METRICS])
                counts[v, c] = [m["tp"][0], m["fp"][0], m["fn"][0], m["tn"][0]]
                if v:
                    flips[v, c] = (sums[:, v, n_suff:] / n_w[:, None]).T
                    flip_counts[v, c] = sums[0, v, n_suff:n_suff + 3]
    return Replicates(cells=cells, members=members, variants=variants, values=values,
                      flips=flips, counts=counts, flip_counts=flip_counts)


def _full_kclass_replicates(*, y, P, variants, cells, members, weights, axis, k, top_k=3,
                            ece_bins=10):
    """The whole-matrix K-class replicates."""
    from harness.metrics.kclass_audit import CLASS_KEYS

    V, C, R = P.shape[0], len(cells), weights.shape[0]
    n_cell = sum(1 for a in axis if ":" not in a)
    ncol, n_flip = k * k + 2 + ece_bins, len(FLIP_STATS)
    width = ncol + n_flip
    values = np.empty((V, C, len(axis), R))
    flips = np.zeros((V, C, n_flip, R))
    flip_counts, confusion = np.zeros((V, C, 3)), np.zeros((V, C, k, k))
    for c, idx in enumerate(members):
        yc, wc = y[idx], weights[:, idx]
        cols = np.zeros((idx.size, V * width))
        for v in range(V):
            cols[:, v * width:v * width + ncol] = kclass_columns(yc, P[v, idx], top_k=top_k,
                                                                 ece_bins=ece_bins)
            if v:
                cols[:, v * width + ncol:(v + 1) * width] = kclass_flip_columns(
                    yc, P[0, idx], P[v, idx])
        with threadpool_limits(limits=1, user_api="blas"):
            sums = (wc @ cols).reshape(R, V, width)
        n_w = sums[:, 0, :k * k].sum(axis=1)
        with np.errstate(invalid="ignore", divide="ignore"):
            for v in range(V):
                m = kclass_from_sums(sums[:, v, :ncol], k=k, ece_bins=ece_bins)
                aucs = class_aucs(yc, P[v, idx], wc)
                m["roc_auc"] = macro_mean(aucs)
                values[v, c, :n_cell] = np.stack([m[a] for a in axis[:n_cell]])
                for j, key in enumerate(CLASS_KEYS):
                    values[v, c, n_cell + j * k:n_cell + (j + 1) * k] = (
                        aucs if key == "roc_auc" else m[key]).T
                confusion[v, c] = m["confusion"][0]
                if v:
                    flips[v, c] = (sums[:, v, ncol:] / n_w[:, None]).T
                    flip_counts[v, c] = sums[0, v, ncol:ncol + 3]
    rep = Replicates(cells=cells, members=members, variants=variants, values=values, flips=flips,
                     counts=np.zeros((V, C, 4)), flip_counts=flip_counts, metric_names=axis)
    return rep, confusion


def _cells(groups):
    names = sorted(set(groups.tolist()))
    return ["overall"] + names, [np.arange(groups.size)] + [np.flatnonzero(groups == g)
                                                             for g in names]


def _binary_inputs(n, *, seed, variants=4):
    rng = np.random.default_rng(seed)
    y = rng.random(n) < 0.4
    groups = rng.choice(np.array(["a", "b", "c", "d"], dtype="<U4"), n, p=[0.5, 0.3, 0.15, 0.05])
    groups[:3] = "tiny"                       # a group of 3 images: strata of 1 and 2
    y[:3] = [True, False, False]
    P = rng.random((variants, n))
    P[:, ::5] = np.round(P[:, ::5], 1)        # tied scores
    return y, groups, P


def _same(a, b):
    assert a.shape == b.shape
    assert np.array_equal(a, b, equal_nan=True), float(np.nanmax(np.abs(a - b)))


ROUNDING = 1e-12


def _close(a, b):
    """Equal shapes, NaN in the same places, and values within ``ROUNDING``."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    assert a.shape == b.shape
    assert np.array_equal(np.isnan(a), np.isnan(b))
    assert np.allclose(a, b, rtol=0, atol=ROUNDING, equal_nan=True), float(np.nanmax(np.abs(a - b)))


def _same_section(a, b, where="metrics"):
    """Two results sections with the same keys, lists, strings and None, numbers within
    ``ROUNDING`` (integers exactly)."""
    assert type(a) is type(b) or (isinstance(a, (int, float)) and isinstance(b, (int, float))), where
    if isinstance(a, dict):
        assert sorted(a) == sorted(b), where
        for k in a:
            _same_section(a[k], b[k], f"{where}.{k}")
    elif isinstance(a, list):
        assert len(a) == len(b), where
        for i, (x, y) in enumerate(zip(a, b)):
            _same_section(x, y, f"{where}[{i}]")
    elif isinstance(a, float) or isinstance(b, float):
        assert abs(a - b) <= ROUNDING, (where, a, b)
    else:
        assert a == b, (where, a, b)


def test_row_blocks_start_at_multiples_and_never_leave_one_row():
    assert row_blocks(2) == [(0, 2)]
    assert row_blocks(ROW_BLOCK + 1) == [(0, ROW_BLOCK + 1)]
    assert row_blocks(1001)[-2:] == [(896, 960), (960, 1001)]
    assert row_blocks(2 * ROW_BLOCK + 1) == [(0, ROW_BLOCK), (ROW_BLOCK, 2 * ROW_BLOCK + 1)]
    for n in range(2, 300):
        blocks = row_blocks(n)
        assert blocks[0][0] == 0 and blocks[-1][1] == n
        assert all(a % ROW_BLOCK == 0 and b - a >= 2 for a, b in blocks)


@pytest.mark.parametrize("n_boot", [1, ROW_BLOCK, 2 * ROW_BLOCK, 300])
def test_weight_blocks_are_the_bootstrap_counts_bitwise(n_boot):
    y, groups, _ = _binary_inputs(257, seed=n_boot)
    classes = np.random.default_rng(1).integers(0, 4, y.size)    # K-class strata too
    for labels in (y, classes):
        blocks = resample_blocks(groups, labels, n_boot=n_boot, seed=11)
        got = np.vstack([w for _, _, w in blocks])
        assert blocks.shape == got.shape == (n_boot + 1, y.size)
        _same(got, _full_weights(groups, labels, n_boot=n_boot, seed=11))
        # a block drawn again (from its saved generator states) is the same block
        _same(blocks.block(len(blocks.blocks) - 1), got[blocks.blocks[-1][0]:])


def test_binary_replicates_in_blocks_equal_the_whole_matrix():
    y, groups, P = _binary_inputs(700, seed=3)
    cells, members = _cells(groups)
    kw = dict(y=y, P=P, variants=[f"v{i}" for i in range(P.shape[0])], cells=cells,
              members=members, threshold=0.45)
    full = _full_replicates(weights=_full_weights(groups, y, n_boot=200, seed=2), **kw)
    got = compute_replicates(weights=resample_blocks(groups, y, n_boot=200, seed=2), **kw)
    for name in ("values", "flips", "counts", "flip_counts"):
        _close(getattr(got, name), getattr(full, name))
    assert np.isnan(got.values[0, cells.index("tiny")]).any()   # undefined replicates kept


def test_kclass_replicates_in_blocks_equal_the_whole_matrix():
    rng = np.random.default_rng(5)
    n, k = 500, 4
    y = rng.integers(0, k, n)
    groups = rng.choice(np.array(["1", "2", "3"], dtype="<U2"), n)
    groups[:2] = "4"
    logits = rng.normal(size=(3, n, k)) + 2.0 * np.eye(k)[y]
    P = np.exp(logits) / np.exp(logits).sum(axis=2, keepdims=True)
    cells, members = _cells(groups)
    axis = ("accuracy", "balanced_accuracy", "roc_auc", "recall:0", "recall:1", "recall:2",
            "recall:3", "precision:0", "precision:1", "precision:2", "precision:3", "f1:0",
            "f1:1", "f1:2", "f1:3", "roc_auc:0", "roc_auc:1", "roc_auc:2", "roc_auc:3")
    kw = dict(y=y, P=P, variants=["clean", "a", "b"], cells=cells, members=members, axis=axis,
              k=k)
    full, conf_full = _full_kclass_replicates(
        weights=_full_weights(groups, y, n_boot=150, seed=4), **kw)
    got, conf = kclass_replicates(weights=resample_blocks(groups, y, n_boot=150, seed=4), **kw)
    for name in ("values", "flips", "flip_counts"):
        _close(getattr(got, name), getattr(full, name))
    _close(conf, conf_full)


def _full_matrix_path(monkeypatch, module, replicates_name, reference):
    """Make ``module`` build the whole weight matrix and use ``reference`` on it."""
    monkeypatch.setattr(module, "resample_blocks", _full_weights)
    monkeypatch.setattr(module, replicates_name, reference)


def test_audit_metrics_section_is_unchanged(monkeypatch):
    y, groups, P = _binary_inputs(600, seed=8, variants=5)
    p = {"clean": P[0], **{f"blur@{s}": P[s] for s in range(1, 5)}}
    kw = dict(y_true=y, p=p, groups={"group": groups, "fitzpatrick": groups[::-1]},
              threshold=0.5, n_boot=1000, seed=3)
    blocked = json.loads(json.dumps(audit_metrics(**kw)))
    _full_matrix_path(monkeypatch, audit_module, "compute_replicates", _full_replicates)
    _same_section(json.loads(json.dumps(audit_metrics(**kw))), blocked)


def test_kclass_audit_metrics_section_is_unchanged(monkeypatch):
    rng = np.random.default_rng(9)
    n = 450
    y = rng.integers(0, 3, n)
    logits = rng.normal(size=(2, n, 3)) + 1.5 * np.eye(3)[y]
    P = np.exp(logits) / np.exp(logits).sum(axis=2, keepdims=True)
    kw = dict(y_true=y, probs={"clean": P[0], "blur@1": P[1]}, class_names=["a", "b", "c"],
              groups={"fitzpatrick": rng.integers(1, 4, n)}, n_boot=300, seed=1)
    blocked = json.loads(json.dumps(kclass_audit_metrics(**kw)))
    _full_matrix_path(monkeypatch, kclass_module, "kclass_replicates", _full_kclass_replicates)
    _same_section(json.loads(json.dumps(kclass_audit_metrics(**kw))), blocked)


def test_replicate_memory_does_not_grow_with_n_boot():
    """The peak allocation of the weights and replicates stays a fraction of one (B, N) float64
    matrix (the whole-matrix path held several of them)."""
    n, n_boot = 20_000, 1000
    rng = np.random.default_rng(0)
    y = rng.random(n) < 0.4
    groups = rng.choice(np.array(["a", "b", "c"]), n)
    P = rng.random((2, n))
    cells, members = _cells(groups)
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        compute_replicates(y=y, P=P, variants=["clean", "v"], cells=cells, members=members,
                           weights=resample_blocks(groups, y, n_boot=n_boot, seed=0),
                           threshold=0.5)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 0.25 * n_boot * n * 8, peak / 1e6
