"""Misclassified images per group, most confident first (the original study's error analysis)."""
from __future__ import annotations

import numpy as np


def misclassified(y: np.ndarray, p: np.ndarray, idx: np.ndarray, *, threshold: float,
                  top_k: int) -> dict:
    """The MC object of one cell.

    Parameters
    ----------
    y : (N,) bool labels; p : (N,) clean probabilities; idx : the cell's image indices.
    top_k : at most this many false positives and false negatives are listed.

    Returns
    -------
    {"n", "false_positives", "false_negatives", "fp": [{"index", "p"}], "fn": [...]}: false
    positives by decreasing p, false negatives by increasing p (ties by index).
    """
    yc = np.asarray(y)[idx].astype(bool)
    pc = np.asarray(p, dtype=np.float64)[idx]
    pred = pc >= threshold
    fp = idx[~yc & pred]
    fn = idx[yc & ~pred]
    fp = fp[np.lexsort((fp, -p[fp]))][:top_k]
    fn = fn[np.lexsort((fn, p[fn]))][:top_k]
    return {
        "n": int(idx.size),
        "false_positives": int((~yc & pred).sum()),
        "false_negatives": int((yc & ~pred).sum()),
        "fp": [{"index": int(i), "p": float(p[i])} for i in fp],
        "fn": [{"index": int(i), "p": float(p[i])} for i in fn],
    }
