"""A small cumulative-link (ordinal logistic) model: fit with L2 penalty, predict, store as plain data.

``P(y <= k | x) = sigmoid(theta_k - x·w)`` for ordered classes ``1..K``; ``theta`` increasing.
The features are standardised with stored means and scales, so the fitted model is a handful of
numbers that go into ``configs/skin_tone.yaml`` (no pickles).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.optimize import minimize
from scipy.special import expit, log_expit

__all__ = ["OrdinalModel", "fit_ordinal"]


@dataclass(frozen=True)
class OrdinalModel:
    """A fitted cumulative-logit model over named features."""

    features: tuple[str, ...]
    mean: np.ndarray          # (F,)
    scale: np.ndarray         # (F,)
    coef: np.ndarray          # (F,) on standardised features
    thresholds: np.ndarray    # (K-1,) increasing
    classes: tuple[int, ...]  # (K,) ordered class values, e.g. 1..6
    exact_weight: float | None = None  # decision rule, see ``decide``

    def score(self, X: np.ndarray) -> np.ndarray:
        """Linear predictor ``x·w`` (higher = later class)."""
        Z = (np.asarray(X, np.float64) - self.mean) / self.scale
        return Z @ self.coef

    def proba(self, X: np.ndarray) -> np.ndarray:
        """(N, K) class probabilities."""
        s = self.score(X)
        cum = expit(self.thresholds[None, :] - s[:, None])
        cum = np.concatenate([np.zeros((len(s), 1)), cum, np.ones((len(s), 1))], axis=1)
        return np.clip(np.diff(cum, axis=1), 0.0, 1.0)

    def predict(self, X: np.ndarray) -> np.ndarray:
        """The class whose cut-point interval holds the linear predictor (the median class)."""
        s = self.score(X)
        idx = np.searchsorted(self.thresholds, s, side="left")
        return np.asarray(self.classes)[idx]

    def decide(self, X: np.ndarray) -> np.ndarray:
        """The stored decision rule: with ``exact_weight`` = w, the class k maximising
        ``P(|y - k| <= 1) + w·P(y = k)`` (agreement within one type first, exact agreement
        second); without it, the median class (``predict``)."""
        if self.exact_weight is None:
            return self.predict(X)
        P = self.proba(X)
        padded = np.pad(P, ((0, 0), (1, 1)))
        within = padded[:, :-2] + padded[:, 1:-1] + padded[:, 2:]
        return np.asarray(self.classes)[np.argmax(within + self.exact_weight * P, axis=1)]

    def to_dict(self) -> dict:
        return {
            "features": list(self.features),
            "mean": [float(v) for v in self.mean],
            "scale": [float(v) for v in self.scale],
            "coef": [float(v) for v in self.coef],
            "thresholds": [float(v) for v in self.thresholds],
            "classes": [int(c) for c in self.classes],
            "exact_weight": None if self.exact_weight is None else float(self.exact_weight),
        }

    @classmethod
    def from_dict(cls, d: dict) -> OrdinalModel:
        m = cls(
            features=tuple(str(f) for f in d["features"]),
            mean=np.asarray(d["mean"], np.float64),
            scale=np.asarray(d["scale"], np.float64),
            coef=np.asarray(d["coef"], np.float64),
            thresholds=np.asarray(d["thresholds"], np.float64),
            classes=tuple(int(c) for c in d["classes"]),
            exact_weight=None if d.get("exact_weight") is None else float(d["exact_weight"]),
        )
        F, K = len(m.features), len(m.classes)
        if m.mean.shape != (F,) or m.scale.shape != (F,) or m.coef.shape != (F,):
            raise ValueError(f"ordinal model: mean/scale/coef must have {F} values")
        if m.thresholds.shape != (K - 1,) or np.any(np.diff(m.thresholds) <= 0):
            raise ValueError(f"ordinal model: thresholds must be {K - 1} increasing values")
        return m


def fit_ordinal(X: np.ndarray, y: np.ndarray, *, features: tuple[str, ...], l2: float = 1.0,
                classes: tuple[int, ...] = (1, 2, 3, 4, 5, 6),
                sample_weight: np.ndarray | None = None,
                exact_weight: float | None = None) -> OrdinalModel:
    """Fit a cumulative-logit model by penalised maximum likelihood.

    Parameters
    ----------
    X : (N, F) features; y : (N,) class values from ``classes``.
    l2 : penalty ``l2/2 · |w|²`` on the standardised coefficients (thresholds are free), relative
        to the (weighted) number of samples.
    sample_weight : optional (N,) weights (e.g. to balance the classes).
    exact_weight : stored decision rule of the model (see ``OrdinalModel.decide``).
    """
    X = np.asarray(X, np.float64)
    y = np.asarray(y)
    K = len(classes)
    yi = np.searchsorted(np.asarray(classes), y)
    if np.any(np.asarray(classes)[np.clip(yi, 0, K - 1)] != y):
        raise ValueError(f"y holds values outside {classes!r}")
    w_s = np.ones(len(y)) if sample_weight is None else np.asarray(sample_weight, np.float64)
    w_s = w_s / w_s.mean()
    mean = X.mean(0)
    scale = X.std(0)
    scale = np.where(scale > 1e-9, scale, 1.0)
    Z = (X - mean) / scale
    N, F = Z.shape

    def unpack(theta):
        w = theta[:F]
        t0 = theta[F]
        gaps = np.exp(theta[F + 1:])
        return w, np.concatenate([[t0], t0 + np.cumsum(gaps)])

    big = 1e6  # stands in for the infinite outer thresholds
    onehot_hi = np.zeros((N, K - 1))
    onehot_lo = np.zeros((N, K - 1))
    onehot_hi[yi < K - 1, yi[yi < K - 1]] = 1.0
    onehot_lo[yi > 0, yi[yi > 0] - 1] = 1.0

    def nll_grad(theta):
        w, t = unpack(theta)
        s = Z @ w
        tt = np.concatenate([[-big], t, [big]])
        hi = tt[yi + 1] - s
        lo = tt[yi] - s
        with np.errstate(over="ignore", divide="ignore"):
            gap = np.maximum(hi - lo, 1e-12)
            logp = log_expit(hi) + log_expit(-lo) + np.log(-np.expm1(-gap))
            r = 1.0 / np.expm1(gap)
        d_hi = expit(-hi) + r      # d log p / d hi
        d_lo = -expit(lo) - r      # d log p / d lo
        f = -(w_s * logp).sum() / N + 0.5 * l2 * (w @ w) / N
        g_s = w_s * (d_hi + d_lo) / N          # d f / d s  (hi, lo both move by -s)
        g_w = Z.T @ g_s + l2 * w / N
        g_t = -((w_s * d_hi) @ onehot_hi + (w_s * d_lo) @ onehot_lo) / N
        # t_k = t0 + sum_{j<k} exp(g_j)
        g_t0 = g_t.sum()
        gaps = np.exp(theta[F + 1:])
        g_gaps = np.array([g_t[j + 1:].sum() for j in range(K - 2)]) * gaps
        return f, np.concatenate([g_w, [g_t0], g_gaps])

    # start: thresholds at the empirical cumulative logits
    cum = np.cumsum(np.bincount(yi, weights=w_s, minlength=K))[:-1] / w_s.sum()
    cum = np.clip(cum, 1e-3, 1 - 1e-3)
    t_init = np.log(cum / (1 - cum))
    t_init = np.maximum.accumulate(t_init + np.arange(K - 1) * 1e-3)
    theta0 = np.concatenate([np.zeros(F), [t_init[0]], np.log(np.maximum(np.diff(t_init), 1e-3))])
    res = minimize(nll_grad, theta0, jac=True, method="L-BFGS-B")
    w, t = unpack(res.x)
    return OrdinalModel(features=tuple(features), mean=mean, scale=scale, coef=w, thresholds=t,
                        classes=tuple(int(c) for c in classes), exact_weight=exact_weight)
