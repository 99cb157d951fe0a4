"""Inference kernels: preprocessing and the interpretation of a model's raw outputs.

Pure numpy functions, shared by every model format; nothing here imports TensorFlow.
Output kinds
------------
How raw model outputs become probabilities is decided once per model and recorded as
``LoadedModel.output_kind``:

- ``"sigmoid"``: (N,) or (N, 1) probabilities of the second class name (or K independent ones);
- ``"softmax"``: (N, K) rows summing to 1;
- ``"logits_sigmoid"`` / ``"logits_softmax"``: unnormalised scores, turned into probabilities with
  the logistic function / a softmax.
"""
from __future__ import annotations

import hashlib
from typing import Sequence

import numpy as np

OUTPUT_KINDS = ("sigmoid", "softmax", "logits_sigmoid", "logits_softmax")

#: Tolerances for recognising probabilities among raw outputs.
PROB_TOL = 1e-6
ROW_SUM_TOL = 1e-3

_CAFFE_MEAN_BGR = np.array([103.939, 116.779, 123.68], dtype=np.float32)
_TORCH_MEAN = np.array([0.485, 0.456, 0.406], dtype=np.float32)
_TORCH_STD = np.array([0.229, 0.224, 0.225], dtype=np.float32)


def preprocess_images(images: np.ndarray, name: str | dict) -> np.ndarray:
    """Apply a named or explicit preprocessing to a uint8 RGB batch; returns float32 of the same
    shape.

    Parameters
    ----------
    images : np.ndarray
        uint8 (N, H, W, 3), RGB.
    name : str or dict
        ``"none"`` (float pixels 0..255), ``"scale_0_1"`` (x / 255), ``"mobilenet_v2"``
        (x / 127.5 - 1, i.e. [-1, 1]), ``"imagenet_caffe"`` (RGB -> BGR minus the ImageNet BGR
        mean, Keras' "caffe" mode), ``"imagenet_torch"`` ((x / 255 - mean) / std with
        torchvision's ImageNet mean and std, Keras' "torch" mode); or an explicit
        ``{"scale": s, "mean": [r, g, b], "std": [r, g, b]}``: ``(x * s - mean) / std`` per RGB
        channel (as validated by :func:`harness.models.sidecar.parse_normalisation`).
    """
    x = images.astype(np.float32)
    if isinstance(name, dict):
        return normalise(x, scale=name["scale"], mean=name["mean"], std=name["std"])
    if name == "none":
        return x
    if name == "scale_0_1":
        x *= np.float32(1.0 / 255.0)
        return x
    if name == "mobilenet_v2":
        x *= np.float32(1.0 / 127.5)
        x -= np.float32(1.0)
        return x
    if name == "imagenet_caffe":
        x = x[..., ::-1] - _CAFFE_MEAN_BGR
        return np.ascontiguousarray(x, dtype=np.float32)
    if name == "imagenet_torch":
        return normalise(x, scale=1.0 / 255.0, mean=_TORCH_MEAN, std=_TORCH_STD)
    raise ValueError(f"unknown preprocessing {name!r}")


def normalise(x: np.ndarray, *, scale: float, mean: Sequence[float],
              std: Sequence[float]) -> np.ndarray:
    """``(x * scale - mean) / std`` over the last axis (RGB), in place on a float32 array.

    Parameters
    ----------
    x : np.ndarray
        float32 (..., 3); overwritten and returned.
    scale : float
        Multiplies the pixels first (1/255 maps 0..255 to 0..1).
    mean, std : sequence of float
        Per channel, in the units after scaling.
    """
    x *= np.float32(scale)
    x -= np.asarray(mean, dtype=np.float32)
    x /= np.asarray(std, dtype=np.float32)
    return x


def kind_from_activation(activation: str | None, n_outputs: int) -> str | None:
    """Output kind implied by the final layer's activation name (None when it says nothing)."""
    if activation == "sigmoid":
        return "sigmoid"
    if activation == "softmax":
        return "softmax" if n_outputs > 1 else "sigmoid"
    if activation == "linear":
        return "logits_sigmoid" if n_outputs == 1 else "logits_softmax"
    return None


def kind_from_mode(mode: str, n_outputs: int) -> str:
    """Output kind for the sidecar's ``output`` field (``"probabilities"`` or ``"logits"``)."""
    if mode == "probabilities":
        return "sigmoid" if n_outputs == 1 else "softmax"
    if mode == "logits":
        return "logits_sigmoid" if n_outputs == 1 else "logits_softmax"
    raise ValueError(f"unknown output mode {mode!r}")


def looks_like_probabilities(raw: np.ndarray) -> bool:
    """True when every value is in [0, 1] and, for K > 1 columns, every row sums to 1."""
    raw = np.asarray(raw, dtype=np.float64)
    if raw.size == 0:
        return True
    if raw.min() < -PROB_TOL or raw.max() > 1.0 + PROB_TOL:
        return False
    if raw.ndim == 2 and raw.shape[1] > 1:
        return bool(np.all(np.abs(raw.sum(axis=1) - 1.0) <= ROW_SUM_TOL))
    return True


def detect_output_kind(raw: np.ndarray) -> str:
    """Decide the output kind from a batch of raw outputs (N, K)."""
    k = 1 if raw.ndim == 1 else raw.shape[1]
    probs = looks_like_probabilities(raw)
    if k == 1:
        return "sigmoid" if probs else "logits_sigmoid"
    return "softmax" if probs else "logits_softmax"


def to_probabilities(raw: np.ndarray, kind: str) -> np.ndarray:
    """Raw outputs (N, K) -> float64 probabilities (N, K) according to ``kind``."""
    z = np.asarray(raw, dtype=np.float64)
    if z.ndim == 1:
        z = z[:, None]
    if kind in ("sigmoid", "softmax"):
        return np.clip(z, 0.0, 1.0)
    if kind == "logits_sigmoid":
        from scipy.special import expit

        return expit(z)
    if kind == "logits_softmax":
        z = z - z.max(axis=1, keepdims=True)
        e = np.exp(z)
        return e / e.sum(axis=1, keepdims=True)
    raise ValueError(f"unknown output kind {kind!r}")


def positive_probability(
    probs: np.ndarray, class_names: Sequence[str], positive_class: str
) -> np.ndarray:
    """(N, K) probabilities -> (N,) probability of ``positive_class``.

    One column means P(class_names[1]) (a sigmoid unit); when the positive class is
    ``class_names[0]`` the complement is returned.
    """
    if probs.shape[1] == 1:
        p = probs[:, 0]
        return p.copy() if positive_class == class_names[1] else 1.0 - p
    return probs[:, list(class_names).index(positive_class)].copy()


def class_probabilities(probs: np.ndarray) -> np.ndarray:
    """(N, K) probabilities of every class; one sigmoid column P(second class) -> (N, 2)."""
    if probs.shape[1] == 1:
        return np.concatenate([1.0 - probs, probs], axis=1)
    return probs.copy()


def explained_class_probability(probs: np.ndarray, class_index: np.ndarray | int) -> np.ndarray:
    """(N,) probability of the class each image is explained for: ``class_index`` one index for
    every image (the positive class of a binary audit) or (N,) indices (the top class of a K-class
    audit, :func:`top_class_index`); ``probs`` (N, K) as :func:`class_probabilities` gives them."""
    probs = np.asarray(probs, dtype=np.float64)
    idx = np.broadcast_to(np.asarray(class_index, dtype=np.intp), (probs.shape[0],))
    return probs[np.arange(probs.shape[0]), idx]


def top_class_index(probs: np.ndarray) -> np.ndarray:
    """(N,) index of each image's most probable class (the first of tied maxima): the class a
    K-class audit predicts and explains."""
    return np.asarray(probs, dtype=np.float64).argmax(axis=1)


def cache_tag(parts: dict) -> str:
    """Short stable digest of the settings that change a model's positive-class probability."""
    text = repr(sorted(parts.items()))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]
