"""The first stages: open the model (no TensorFlow unless something must be read from its graph)
and load & validate the dataset at the model's input size."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from harness.cache import ArrayCache
from harness.config import AuditConfig
from harness.data.arrays import ArrayData, dataset_from_arrays
from harness.data.decode import DECODER_VERSION
from harness.data.load import Dataset, load_dataset
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


def data_stage(cfg: AuditConfig, *, model: LoadedModel, cache: ArrayCache, timer: Timer,
               progress: bool, log: Callable[[str], None]) -> AuditData:
    """Load ``cfg.data`` at the model's input size; every skipped file is logged by name."""
    spec = model.spec
    size = tuple(spec.input_size)
    with timer.stage("load_data"):
        allowed = None if (model.binary_view or not spec.class_names) else spec.class_names
        if isinstance(cfg.data, ArrayData):
            ds = dataset_from_arrays(cfg.data, size=size, allowed_labels=allowed)
        else:
            ds = load_dataset(cfg.data, size=size, allowed_labels=allowed,
                              data_root=Path(cfg.data_root) if cfg.data_root else None,
                              progress=progress)
    for s in ds.skipped:
        log(f"skipped {s.file}: {s.reason}")
    log(f"{len(ds.files)} images from {ds.root} ({len(ds.skipped)} skipped); model {model.path} "
        f"({model.format}, input {size[0]}x{size[1]})")
    # Rebuild the model's view now that the dataset's labels are known (class names inferred).
    if spec.extra.get("needs_dataset_labels"):
        model = open_model(cfg.model, spec_path=cfg.model_spec, positive_class=cfg.positive_class,
                           trust=cfg.trust_model, dataset_labels=ds.class_names, cache=cache)
    if model.kclass:
        index = {c: i for i, c in enumerate(model.spec.class_names)}
        y_true = np.array([index[str(v)] for v in ds.labels], dtype=np.intp)
    else:
        y_true = (ds.labels == model.spec.positive_class).astype(np.int8)
    image_keys = [image_key(h, size) for h in ds.image_hashes]
    return AuditData(dataset=ds, model=model, y_true=y_true, image_keys=image_keys)
