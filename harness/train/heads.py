"""Heads trained on cached pooled backbone features: a logistic regression, or the Dense head.

Each returns the head as ``(kernel, bias)`` on the raw pooled features, which is exactly the
saved classifier's ``prob`` layer (:func:`harness.train.classifier.set_head`): the backbone's
output for an image never changes while it is frozen, so it is computed once
(:mod:`harness.train.features`) and the head is trained on it alone.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np

from harness.train.batches import fit_batches
from harness.train.callbacks import epoch_bar
from harness.train.recipes import Recipe
from harness.train.validation import roc_auc, stratified_folds

__all__ = ["LOGISTIC_C", "balanced_class_weight", "dense_head", "logistic_head", "sigmoid"]

#: Regularisation strengths tried for the logistic head (inverse L2 penalty on standardised
#: features).
LOGISTIC_C = (0.001, 0.003, 0.01, 0.03, 0.1, 0.3)


def sigmoid(z: np.ndarray) -> np.ndarray:
    """The logistic function, without overflow."""
    return 0.5 * (1.0 + np.tanh(0.5 * z))


def balanced_class_weight(y: np.ndarray) -> dict[int, float]:
    """``n / (2 n_c)`` per class (scikit-learn's "balanced")."""
    y = np.asarray(y).astype(int)
    n = len(y)
    return {c: float(n / (2 * max(1, int(np.sum(y == c))))) for c in (0, 1)}


def _fit_logistic(X: np.ndarray, y: np.ndarray, *, C: float,
                  class_weight) -> tuple[np.ndarray, float]:
    """Logistic regression on standardised X, folded back into (kernel, bias) on raw X."""
    from sklearn.linear_model import LogisticRegression

    X = np.asarray(X, dtype=np.float64)
    mu = X.mean(axis=0)
    sd = X.std(axis=0)
    sd[sd < 1e-6] = 1.0
    clf = LogisticRegression(C=C, max_iter=5000, class_weight=class_weight)
    clf.fit((X - mu) / sd, y)
    w = clf.coef_[0] / sd
    b = float(clf.intercept_[0] - np.dot(clf.coef_[0], mu / sd))
    return w, b


def logistic_head(X: np.ndarray, y: np.ndarray, *, class_weight, folds: int, seed: int,
                  Cs: Sequence[float] = LOGISTIC_C) -> tuple[np.ndarray, float, dict]:
    """L2 logistic regression with C chosen by stratified cross-validation, then fit on all.

    Parameters
    ----------
    X : np.ndarray
        Pooled features (N, C).
    y : np.ndarray
        0/1 labels.
    class_weight : None or "balanced"
        scikit-learn's class weighting.
    folds : int
        k of the inner cross-validation (at most the size of the smaller class, at least 2).
    seed : int
        Seeds the inner folds.
    Cs : sequence of float
        The grid; the pooled out-of-fold ROC AUC decides, ties going to the smaller C.

    Returns
    -------
    tuple
        ``(kernel, bias, {"C", "cv_auc"})``.
    """
    k = max(2, min(folds, int(np.bincount(y, minlength=2).min())))
    splits = stratified_folds(y, k=k, seed=seed)
    scores = []
    for C in Cs:
        oof = np.zeros(len(y))
        for tr, te in splits:
            w, b = _fit_logistic(X[tr], y[tr], C=C, class_weight=class_weight)
            oof[te] = sigmoid(X[te].astype(np.float64) @ w + b)
        scores.append(roc_auc(y, oof) or 0.0)
    best = int(np.argmax(np.round(scores, 12)))  # first maximum: the smallest C
    w, b = _fit_logistic(X, y, C=Cs[best], class_weight=class_weight)
    info = {"C": float(Cs[best]), "cv_auc": {str(c): float(s) for c, s in zip(Cs, scores)}}
    return w, b, info


def dense_head(X: np.ndarray, y: np.ndarray, *, recipe: Recipe, epochs: int, seed: int,
               progress: bool, desc: str) -> tuple[np.ndarray, float, dict]:
    """The original head (Dropout, Dense sigmoid) trained by Adam on pooled features.

    Equivalent to training the whole model with the backbone frozen in inference mode.
    Returns ``(kernel, bias, {"epochs", "final_loss"})``.
    """
    import keras

    keras.utils.set_random_seed(seed)
    inputs = keras.Input((X.shape[1],), name="features")
    x = keras.layers.Dropout(recipe.dropout, name="dropout")(inputs)
    outputs = keras.layers.Dense(1, activation="sigmoid", name="prob")(x)
    head = keras.Model(inputs, outputs)
    head.compile(optimizer=keras.optimizers.Adam(recipe.learning_rate),
                 loss="binary_crossentropy", jit_compile=False)
    batches = fit_batches(X.astype(np.float32), y.astype(np.float32),
                          batch_size=recipe.batch_size, shuffle=True,
                          class_weight=balanced_class_weight(y) if recipe.class_weighted else None)
    hist = head.fit(batches, epochs=epochs, shuffle=False, verbose=0,
                    callbacks=[epoch_bar(total=epochs, desc=desc, enabled=progress)])
    kernel, bias = head.get_layer("prob").get_weights()
    info = {"epochs": int(epochs), "final_loss": float(hist.history["loss"][-1])}
    return kernel[:, 0].astype(np.float64), float(bias[0]), info
