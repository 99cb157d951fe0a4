"""The first stage, open the model (no TensorFlow unless something must be read from its graph),
and what the audit knows of its data: labels and cache keys."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from harness.cache import ArrayCache
from harness.config import AuditConfig
from harness.data.decode import DECODER_VERSION
from harness.data.load import Dataset
from harness.models.open import LoadedModel, open_model
from harness.pipeline.timer import Timer


@dataclass(frozen=True)
class AuditData:
    """The dataset and the model's view of it.

    Attributes
    ----------
    dataset : Dataset
        The usable images, decoded at the model's input size, and the files that were skipped.
    model : LoadedModel
        The model, with class names inferred from the dataset's labels where the sidecar had none.
    y_true : ndarray
        (N,) int8: 1 for the model's positive class, 0 for every other label; for a K-class
        model (``model.kclass``) the index of each image's label in ``spec.class_names``.
    image_keys : list of str
        One cache key per image: its content hash and the decode/resize recipe that made the
        array.
    """

    dataset: Dataset
    model: LoadedModel
    y_true: np.ndarray
    image_keys: list[str]


def image_key(sha256: str, size: tuple[int, int]) -> str:
    """An image's cache key: its content hash and the decode/resize recipe that made the array
    (``size`` is the model's ``(width, height)``)."""
    return f"{sha256}:{size[0]}x{size[1]}:{DECODER_VERSION}"


def model_stage(cfg: AuditConfig, *, cache: ArrayCache, timer: Timer) -> LoadedModel:
    """Open ``cfg.model`` and its sidecar (a bad model or sidecar stops here)."""
    with timer.stage("open_model"):
        return open_model(cfg.model, spec_path=cfg.model_spec, positive_class=cfg.positive_class,
                          trust=cfg.trust_model, cache=cache)


def labels_of(ds: Dataset, model: LoadedModel) -> np.ndarray:
    """``AuditData.y_true``: 1 for the model's positive class and 0 for every other label, or for
    a K-class model the index of each image's label in ``spec.class_names``."""
    if model.kclass:
        index = {c: i for i, c in enumerate(model.spec.class_names)}
        return np.array([index[str(v)] for v in ds.labels], dtype=np.intp)
    return (ds.labels == model.spec.positive_class).astype(np.int8)
